#pragma once
// Events to the backend (docs/hooks.md "Events"): turns the cluster's presence changes into
// events with ids and hands them, in order, to one dispatcher per receiver.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/events/cluster_presence.h"
#include "controlplane/events/event_dispatcher.h"
#include "controlplane/events/event_settings.h"

namespace herald::control {

class EventPublisher {
 public:
  // One dispatcher per receiver, each with `make_sender(endpoint)` (tests substitute theirs).
  using SenderMaker =
      std::function<Result<std::unique_ptr<EventSender>>(const herald::v1::HookEndpoint&)>;
  static Result<std::unique_ptr<EventPublisher>> make(const EventSettings& events,
                                                      const herald::v1::HookSettings& hooks,
                                                      const SenderMaker& make_sender,
                                                      EventDispatchOptions options = {});

  // ClusterPresence's sink with one replica (--engine memory): the transitions as events, in
  // order, to every receiver. With several, ClusterEventRelay feeds the dispatchers instead.
  void publish(const std::vector<PresenceTransition>& transitions);
  void stop();
  // Whether the receivers take events of `type` (config `events.types`).
  bool wants(const std::string& type) const { return types_.empty() || types_.count(type) > 0; }

  const std::vector<std::unique_ptr<EventDispatcher>>& dispatchers() const { return dispatchers_; }

 private:
  EventPublisher() = default;

  std::string id_prefix_;  // unique per start of herald-control
  std::atomic<uint64_t> next_{1};
  std::set<std::string> types_;  // empty: all
  std::vector<std::unique_ptr<EventDispatcher>> dispatchers_;
};

}  // namespace herald::control
