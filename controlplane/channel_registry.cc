#include "controlplane/channel_registry.h"

#include <functional>
#include <random>

namespace herald::control {

std::string newRandomEpoch() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kHex[v & 0xf];
    v >>= 4;
  }
  return out;
}

ChannelRegistry::Stripe& ChannelRegistry::stripeFor(const std::string& channel) {
  return stripes_[std::hash<std::string>{}(channel) % kStripes];
}

PublishOutcome ChannelRegistry::publish(const std::string& channel, const std::string& event,
                                        const std::string& data, const std::string& idempotency_key,
                                        int64_t ts_unix_ms, const Router& router) {
  Stripe& stripe = stripeFor(channel);
  std::lock_guard<std::mutex> lock(stripe.mu);
  Channel& ch = stripe.channels[channel];
  if (ch.epoch.empty()) {
    ch.epoch = newRandomEpoch();
  }
  PublishOutcome outcome;
  outcome.epoch = ch.epoch;
  if (!idempotency_key.empty()) {
    auto it = ch.keys.find(idempotency_key);
    if (it != ch.keys.end()) {
      outcome.offset = it->second;
      outcome.duplicate = true;
      return outcome;
    }
  }
  outcome.offset = ++ch.offset;
  if (!idempotency_key.empty()) {
    ch.keys.emplace(idempotency_key, outcome.offset);
    ch.key_order.push_back(idempotency_key);
    if (ch.key_order.size() > kIdempotencyWindow) {
      ch.keys.erase(ch.key_order.front());
      ch.key_order.pop_front();
    }
  }
  publications_.fetch_add(1, std::memory_order_relaxed);

  auto message = std::make_shared<herald::v1::ControlMessage>();
  auto* deliver = message->mutable_deliver();
  deliver->set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  auto* pub = deliver->mutable_publication();
  pub->set_channel(channel);
  pub->set_offset(outcome.offset);
  pub->set_epoch(ch.epoch);
  pub->set_event(event);
  pub->set_data(data);
  pub->set_ts_unix_ms(ts_unix_ms);
  ControlMessagePtr shared = std::move(message);
  // Still under the stripe lock: queue order per node equals offset order.
  outcome.nodes = router.forChannel(channel, [&](NodeSink& node) { node.send(shared); });
  return outcome;
}

std::map<std::string, ChannelRegistry::ChannelState> ChannelRegistry::list() const {
  std::map<std::string, ChannelState> out;
  for (const auto& stripe : stripes_) {
    std::lock_guard<std::mutex> lock(stripe.mu);
    for (const auto& [name, ch] : stripe.channels) {
      out[name] = ChannelState{ch.offset, ch.epoch};
    }
  }
  return out;
}

uint64_t ChannelRegistry::publications() const {
  return publications_.load(std::memory_order_relaxed);
}

}  // namespace herald::control
