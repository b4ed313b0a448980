#include "controlplane/events/event_publisher.h"

#include <openssl/rand.h>

#include "common/clock.h"
#include "common/hex.h"

namespace herald::control {

Result<std::unique_ptr<EventPublisher>> EventPublisher::make(const EventSettings& events,
                                                             const herald::v1::HookSettings& hooks,
                                                             const SenderMaker& make_sender,
                                                             EventDispatchOptions options) {
  if (Status valid = validateEventSettings(events, hooks); !valid.isOk()) {
    return valid;
  }
  std::unique_ptr<EventPublisher> publisher(new EventPublisher());
  // Ids must not repeat across restarts (receivers de-duplicate by them): a random prefix
  // per start, then a sequence.
  unsigned char random[8];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return Status(ErrorCode::kInternal, "no randomness for event ids");
  }
  publisher->id_prefix_ = toHex(random, sizeof(random)) + "-";
  publisher->types_.insert(events.types.begin(), events.types.end());
  options.queue_limit = events.queue_limit;
  for (const auto& name : events.endpoints) {
    for (const auto& endpoint : hooks.endpoints()) {
      if (endpoint.name() != name) {
        continue;
      }
      auto sender = make_sender(endpoint);
      if (!sender.isOk()) {
        return sender.status();
      }
      publisher->dispatchers_.push_back(
          std::make_unique<EventDispatcher>(name, std::move(sender.value()), options));
    }
  }
  return publisher;
}

void EventPublisher::publish(const std::vector<PresenceTransition>& transitions) {
  std::vector<herald::v1::Event> events;
  events.reserve(transitions.size());
  const int64_t now = unixMillis();
  for (const auto& t : transitions) {
    const char* type = presenceChangeName(t.change);
    if (!types_.empty() && types_.count(type) == 0) {
      continue;
    }
    herald::v1::Event event;
    event.set_id(id_prefix_ + std::to_string(next_.fetch_add(1, std::memory_order_relaxed)));
    event.set_type(type);
    event.set_time_ms(now);
    event.set_user(t.user);
    event.set_channel(t.channel);
    event.set_client(t.client);
    event.set_code(t.code);
    event.set_node(t.node);
    event.set_reason(t.reason);
    events.push_back(std::move(event));
  }
  if (events.empty()) {
    return;
  }
  for (const auto& dispatcher : dispatchers_) {
    dispatcher->push(events);
  }
}

void EventPublisher::stop() {
  for (const auto& dispatcher : dispatchers_) {
    dispatcher->stop();
  }
}

}  // namespace herald::control
