#include "controlplane/events/event_settings.h"

#include <algorithm>
#include <iterator>

namespace herald::control {

namespace {

constexpr const char* kEventTypes[] = {
    "client.connected", "client.disconnected", "user.online",        "user.offline",
    "channel.occupied", "channel.vacated",     "subscription.added", "subscription.removed"};

bool knownType(const std::string& type) {
  return std::any_of(std::begin(kEventTypes), std::end(kEventTypes),
                     [&](const char* known) { return type == known; });
}

}  // namespace

Status validateEventSettings(const EventSettings& events, const herald::v1::HookSettings& hooks) {
  for (const auto& name : events.endpoints) {
    const bool known = std::any_of(hooks.endpoints().begin(), hooks.endpoints().end(),
                                   [&](const auto& e) { return e.name() == name; });
    if (!known) {
      return Status(ErrorCode::kBadRequest,
                    "events.endpoints names no hook endpoint: '" + name.substr(0, 64) + "'");
    }
  }
  for (const auto& type : events.types) {
    if (!knownType(type)) {
      return Status(ErrorCode::kBadRequest,
                    "events.types: '" + type.substr(0, 64) +
                        "' is not one of client.connected, client.disconnected, user.online, "
                        "user.offline, channel.occupied, channel.vacated, subscription.added, "
                        "subscription.removed");
    }
  }
  if (events.queue_limit == 0 || events.queue_limit > kMaxEventQueueLimit) {
    return Status(ErrorCode::kBadRequest,
                  "events.queue_limit must be 1.." + std::to_string(kMaxEventQueueLimit));
  }
  return Status::ok();
}

bool eventsNeedClientReports(const EventSettings& events) {
  if (events.endpoints.empty()) {
    return false;
  }
  if (events.types.empty()) {
    return true;
  }
  return std::any_of(events.types.begin(), events.types.end(), [](const std::string& type) {
    return type.rfind("client.", 0) == 0 || type.rfind("subscription.", 0) == 0;
  });
}

}  // namespace herald::control
