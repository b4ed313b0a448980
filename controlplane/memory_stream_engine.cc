#include "controlplane/memory_stream_engine.h"

#include <functional>
#include <random>

#include "common/clock.h"
#include "common/stream_keys.h"

namespace herald::control {

MemoryStreamEngine::Stripe& MemoryStreamEngine::stripeFor(const std::string& key) {
  return stripes_[std::hash<std::string>{}(key) % kStripes];
}

const MemoryStreamEngine::Stripe& MemoryStreamEngine::stripeFor(const std::string& key) const {
  return stripes_[std::hash<std::string>{}(key) % kStripes];
}

PublishOutcome MemoryStreamEngine::append(
    Stream& stream, herald::v1::Deliver deliver, const HistoryPolicy& policy, int64_t now_ms,
    const std::function<uint32_t(const DeliveryRouter::Visit&)>& route) {
  if (stream.epoch.empty()) {
    stream.epoch = newRandomEpoch();
  }
  PublishOutcome outcome;
  outcome.epoch = stream.epoch;
  outcome.offset = ++stream.offset;
  stream.ttl_ms = policy.ttl_ms;
  stream.last_ms = now_ms;
  publications_.fetch_add(1, std::memory_order_relaxed);

  auto* pub = deliver.mutable_publication();
  pub->set_offset(outcome.offset);
  pub->set_epoch(stream.epoch);
  if (policy.size > 0) {
    stream.history.append(std::make_shared<const herald::v1::Publication>(*pub), policy, now_ms);
  } else if (!stream.history.empty()) {
    stream.history = ChannelHistory();  // history was turned off for this namespace
  }
  auto message = std::make_shared<herald::v1::ControlMessage>();
  *message->mutable_deliver() = std::move(deliver);
  ControlMessagePtr shared = std::move(message);
  // Still under the stripe lock: queue order per node equals offset order.
  outcome.nodes = route([&](NodeSink& node) { node.send(shared); });
  return outcome;
}

PublishOutcome MemoryStreamEngine::publish(const PublishItem& item) {
  const std::string& channel = item.channel;
  const std::string& idempotency_key = item.idempotency_key;
  Stripe& stripe = stripeFor(channel);
  std::lock_guard<std::mutex> lock(stripe.mu);
  Stream& ch = stripe.streams[channel];
  if (!idempotency_key.empty()) {
    auto it = ch.keys.find(idempotency_key);
    if (it != ch.keys.end()) {
      PublishOutcome outcome;
      outcome.epoch = ch.epoch;
      outcome.offset = it->second;
      outcome.duplicate = true;
      return outcome;
    }
  }
  herald::v1::Deliver deliver;
  deliver.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
  auto* pub = deliver.mutable_publication();
  pub->set_channel(channel);
  pub->set_event(item.event);
  pub->set_data(item.data);
  pub->set_ts_unix_ms(item.ts_unix_ms);
  pub->set_accepted_unix_us(item.accepted_unix_us);
  pub->set_publisher_user(item.publisher.user);
  pub->set_publisher_client(item.publisher.client);
  pub->mutable_tags()->insert(item.tags.begin(), item.tags.end());
  PublishOutcome outcome = append(
      ch, std::move(deliver), item.history, steadyMillis(),
      [&](const DeliveryRouter::Visit& visit) { return router_.forChannel(channel, visit); });
  if (!idempotency_key.empty()) {
    ch.keys.emplace(idempotency_key, outcome.offset);
    ch.key_order.push_back(idempotency_key);
    if (ch.key_order.size() > kIdempotencyWindow) {
      ch.keys.erase(ch.key_order.front());
      ch.key_order.pop_front();
    }
  }
  return outcome;
}

PublishOutcome MemoryStreamEngine::sendToUser(const UserPublishItem& item) {
  const std::string& user = item.user;
  const std::string key = userStreamKey(user);
  Stripe& stripe = stripeFor(key);
  std::lock_guard<std::mutex> lock(stripe.mu);
  herald::v1::Deliver deliver;
  deliver.set_target(herald::v1::DELIVERY_TARGET_USER);
  deliver.set_user(user);
  auto* pub = deliver.mutable_publication();
  pub->set_event(item.event);
  pub->set_data(item.data);
  pub->set_ts_unix_ms(item.ts_unix_ms);
  pub->set_accepted_unix_us(item.accepted_unix_us);
  return append(stripe.streams[key], std::move(deliver), item.history, steadyMillis(),
                [&](const DeliveryRouter::Visit& visit) { return router_.forUser(user, visit); });
}

Status MemoryStreamEngine::relayJoinLeave(const std::vector<herald::v1::JoinLeave>& changes) {
  for (const auto& change : changes) {
    auto message = std::make_shared<herald::v1::ControlMessage>();
    *message->mutable_join_leave() = change;
    ControlMessagePtr shared = std::move(message);
    router_.forChannel(change.channel(), [&](NodeSink& node) { node.send(shared); });
  }
  return Status::ok();
}

HistoryResult MemoryStreamEngine::read(const std::string& key, const HistoryQuery& query,
                                       int64_t now_ms) const {
  const Stripe& stripe = stripeFor(key);
  std::lock_guard<std::mutex> lock(stripe.mu);
  HistoryResult result;
  auto it = stripe.streams.find(key);
  if (it == stripe.streams.end()) {
    // Never published here: nothing was missed, unless the position is from another epoch.
    result.recovered = query.epoch.empty() && query.since == 0;
    return result;
  }
  const Stream& stream = it->second;
  result.offset = stream.offset;
  result.epoch = stream.epoch;
  const bool same_epoch = query.epoch.empty() || query.epoch == stream.epoch;
  // A position from another epoch says nothing about this one: read from the start.
  const uint64_t since = same_epoch ? query.since : 0;
  HistoryRead read = stream.history.readSince(since, stream.offset, query.limit, query.max_bytes,
                                              stream.ttl_ms, now_ms);
  result.publications = std::move(read.publications);
  result.recovered = same_epoch && read.recovered;
  return result;
}

HistoryResult MemoryStreamEngine::history(const std::string& channel, const HistoryQuery& query,
                                          int64_t now_ms) const {
  return read(channel, query, now_ms);
}

HistoryResult MemoryStreamEngine::userHistory(const std::string& user, const HistoryQuery& query,
                                              int64_t now_ms) const {
  return read(userStreamKey(user), query, now_ms);
}

size_t MemoryStreamEngine::expire(int64_t now_ms) {
  size_t dropped = 0;
  uint64_t streams = 0;
  uint64_t retained = 0;
  for (auto& stripe : stripes_) {
    std::lock_guard<std::mutex> lock(stripe.mu);
    streams += stripe.streams.size();
    for (auto it = stripe.streams.begin(); it != stripe.streams.end();) {
      dropped += it->second.history.expire(it->second.ttl_ms, now_ms);
      retained += it->second.history.size();
      // A personal stream idle for a day with nothing left to recover is forgotten (a later
      // SendToUser starts a new epoch; a client returning with the old one gets
      // recovered:false). Channels keep their offsets for as long as the process runs.
      if (isUserStreamKey(it->first) && it->second.history.empty() &&
          now_ms - it->second.last_ms >= kIdleUserStreamMs) {
        it = stripe.streams.erase(it);
      } else {
        ++it;
      }
    }
  }
  retained_streams_.store(streams, std::memory_order_relaxed);
  retained_publications_.store(retained, std::memory_order_relaxed);
  return dropped;
}

std::optional<StreamEngine::HistorySize> MemoryStreamEngine::historySize() const {
  return HistorySize{retained_streams_.load(std::memory_order_relaxed),
                     retained_publications_.load(std::memory_order_relaxed)};
}

Result<std::map<std::string, StreamEngine::ChannelState>> MemoryStreamEngine::list() const {
  std::map<std::string, ChannelState> out;
  for (const auto& stripe : stripes_) {
    std::lock_guard<std::mutex> lock(stripe.mu);
    for (const auto& [name, stream] : stripe.streams) {
      if (!isUserStreamKey(name)) {
        out[name] = ChannelState{stream.offset, stream.epoch, stream.history.size()};
      }
    }
  }
  return out;
}

uint64_t MemoryStreamEngine::publications() const {
  return publications_.load(std::memory_order_relaxed);
}

}  // namespace herald::control
