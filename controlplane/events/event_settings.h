#pragma once
// herald-control's `events` config section (docs/hooks.md "Events").
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald::control {

// herald-control's `events` config section.
struct EventSettings {
  std::vector<std::string> endpoints;  // hook endpoints (hooks.endpoints) that receive them
  std::vector<std::string> types;      // the event types sent; empty: all
  uint32_t queue_limit = 100000;       // events waiting per receiver at most
};

inline constexpr uint32_t kMaxEventQueueLimit = 10000000;

// Every endpoint named exists in `hooks`, every type is known, the bound is sane.
Status validateEventSettings(const EventSettings& events, const herald::v1::HookSettings& hooks);

// Whether nodes must report each connection (ConfigSnapshot.report_clients): some receiver
// takes client.* or subscription.* events.
bool eventsNeedClientReports(const EventSettings& events);

}  // namespace herald::control
