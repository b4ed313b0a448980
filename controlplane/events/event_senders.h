#pragma once
// The ways herald-control delivers events to a receiver (docs/hooks.md "Events"): HTTP POST
// of a JSON batch to <url>/events, or gRPC HookService.Events; signed like hook calls when
// the endpoint has a secret.
#include <memory>
#include <string>

#include "common/status.h"
#include "controlplane/events/event_dispatcher.h"

namespace herald::control {

// A sender for a hook endpoint (validated: validateHookSettings).
Result<std::unique_ptr<EventSender>> makeEventSender(const herald::v1::HookEndpoint& endpoint);

// The HTTP body of a batch: {"events":[{"id":..,"type":..,"time_ms":..,...}]}, members of an
// event that are empty left out.
std::string eventBatchJson(const herald::v1::EventBatch& batch);

}  // namespace herald::control
