// RedisStreamEngine, receiving side: one subscriber thread per Redis instance subscribes to
// the streams this replica's nodes want (redis_stream_interest.cc) and routes what comes to
// them; awaitRouted()'s markers come back on the replica's own channel. Reconnects with
// backoff; on_resubscribed tells the control plane.
#include <hiredis/hiredis.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <random>

#include "common/logging.h"
#include "common/stream_keys.h"
#include "controlplane/redis/redis_engine_instance.h"

namespace herald::control {

using redis_engine_detail::toU64;

std::string RedisStreamEngine::pubsubPrefix(size_t instance) const {
  return "herald:p:" + std::to_string(options_.instances[instance].db) + ":";
}

void RedisStreamEngine::awaitRouted(const std::string& name, bool user_stream,
                                    std::chrono::milliseconds max) const {
  const std::string key = user_stream ? userStreamKey(name) : name;
  const size_t instance = instanceFor(key);
  if (!instances_[instance]->subscribed.load()) {
    // Nothing is routed now; when the subscription returns, the nodes resync anyway.
    return;
  }
  const uint64_t marker = next_marker_.fetch_add(1) + 1;
  // Channel names cannot start with '!', so the marker channel never meets a real stream.
  auto reply =
      connectionFor(key).command({"PUBLISH", markerChannel(instance), std::to_string(marker)});
  if (!reply.isOk()) {
    return;  // the history read before it would have failed too
  }
  std::unique_lock<std::mutex> lock(marker_mu_);
  marker_cv_.wait_for(lock, max, [&] { return markers_seen_[instance] >= marker; });
}

Status RedisStreamEngine::relayJoinLeave(const std::vector<herald::v1::JoinLeave>& changes) {
  std::vector<std::vector<std::vector<std::string>>> commands(instances_.size());
  for (const auto& change : changes) {
    const size_t instance = instanceFor(change.channel());
    // On the channel's own pub/sub channel, so that only replicas that want it get it; '!'
    // tells it from a publication ("OFFSET:...").
    commands[instance].push_back(
        {"PUBLISH", pubsubPrefix(instance) + change.channel(), "!" + change.SerializeAsString()});
  }
  Status status = Status::ok();
  for (size_t i = 0; i < commands.size(); ++i) {
    if (!commands[i].empty()) {
      auto result = connectionOf(i).pipeline(commands[i]);
      if (!result.status.isOk()) {
        status = result.status;
      }
    }
  }
  return status;
}

void RedisStreamEngine::onPublication(size_t instance, const std::string& redis_channel,
                                      const std::string& payload) {
  // "herald:p:<db>:<stream>"
  const size_t prefix_end = redis_channel.find(':', std::string("herald:p:").size());
  if (prefix_end == std::string::npos) {
    return;
  }
  const std::string key = redis_channel.substr(prefix_end + 1);
  if (key.compare(0, 6, "!sync:") == 0) {
    // A marker of awaitRouted() (only ours come): everything this instance published before
    // it is routed.
    const uint64_t marker = toU64(payload);
    {
      std::lock_guard<std::mutex> lock(marker_mu_);
      markers_seen_[instance] = std::max(markers_seen_[instance], marker);
    }
    marker_cv_.notify_all();
    return;
  }
  if (key.compare(0, 6, "!peer:") == 0) {
    if (peer_handler_) {
      peer_handler_(payload);  // only our own peer channel is subscribed
    }
    return;
  }
  if (key == "!w") {
    // Another replica's acknowledged writes (gossipLoop). Bounded: the script stores it in
    // herald:w, and INCR must still work on it.
    const uint64_t writes = toU64(payload);
    if (writes < (uint64_t{1} << 62)) {
      noteWrites(instance, writes);
    }
    return;
  }
  if (!payload.empty() && payload[0] == '!') {
    // Joins and leaves (relayJoinLeave): for our nodes with subscribers of the channel.
    auto message = std::make_shared<herald::v1::ControlMessage>();
    auto* change = message->mutable_join_leave();
    if (!change->ParseFromArray(payload.data() + 1, static_cast<int>(payload.size() - 1)) ||
        change->channel() != key) {
      return;
    }
    ControlMessagePtr shared = std::move(message);
    router_.forChannel(change->channel(), [&](NodeSink& node) { node.send(shared); });
    return;
  }
  // "OFFSET:EPOCH:WRITES:BYTES" (redis_scripts.h)
  const size_t colon1 = payload.find(':');
  const size_t colon2 = colon1 == std::string::npos ? colon1 : payload.find(':', colon1 + 1);
  const size_t colon3 = colon2 == std::string::npos ? colon2 : payload.find(':', colon2 + 1);
  if (key.empty() || colon3 == std::string::npos) {
    return;
  }
  noteWrites(instance, toU64(payload.substr(colon2 + 1, colon3 - colon2 - 1)));
  auto message = std::make_shared<herald::v1::ControlMessage>();
  auto* deliver = message->mutable_deliver();
  auto* pub = deliver->mutable_publication();
  if (!pub->ParseFromArray(payload.data() + colon3 + 1,
                           static_cast<int>(payload.size() - colon3 - 1))) {
    return;
  }
  pub->set_offset(toU64(payload.substr(0, colon1)));
  pub->set_epoch(payload.substr(colon1 + 1, colon2 - colon1 - 1));
  ControlMessagePtr shared = message;
  if (key[0] == '#') {
    deliver->set_target(herald::v1::DELIVERY_TARGET_USER);
    deliver->set_user(key.substr(1));
    router_.forUser(key.substr(1), [&](NodeSink& node) { node.send(shared); });
  } else {
    deliver->set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
    router_.forChannel(key, [&](NodeSink& node) { node.send(shared); });
  }
}

std::chrono::milliseconds RedisStreamEngine::pingTimeout() const {
  // Longer than a busy Redis's pause (an fsync, a fork for a snapshot): a lost subscription
  // makes every node resync, so a stall must not pass for a cut.
  return std::max(options_.timeout * 3, std::chrono::milliseconds(3000));
}

bool RedisStreamEngine::readSubscription(Instance* instance, redisContext* ctx) {
  using Clock = std::chrono::steady_clock;
  // Idle this long, the subscriber pings; a ping unanswered for pingTimeout() ends the read.
  constexpr auto kIdleBeforePing = std::chrono::milliseconds(1000);
  auto last_heard = Clock::now();
  std::optional<Clock::time_point> ping_sent;
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx, &raw) != REDIS_OK) {
      return true;  // a protocol error: lost, and said so by the caller's warning
    }
    if (raw != nullptr) {
      RedisReplyPtr reply(static_cast<redisReply*>(raw));
      last_heard = Clock::now();
      ping_sent.reset();  // any reply (the pong included) shows the path works
      // ["message", channel, payload]
      if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
          reply->element[0]->type == REDIS_REPLY_STRING &&
          reply->element[1]->type == REDIS_REPLY_STRING &&
          reply->element[2]->type == REDIS_REPLY_STRING &&
          std::string(reply->element[0]->str, reply->element[0]->len) == "message") {
        instance->received_messages.fetch_add(1, std::memory_order_relaxed);
        instance->received_bytes.fetch_add(reply->element[1]->len + reply->element[2]->len,
                                           std::memory_order_relaxed);
        onPublication(instance->index, std::string(reply->element[1]->str, reply->element[1]->len),
                      std::string(reply->element[2]->str, reply->element[2]->len));
      } else {
        onSubscriptionReply(instance, *reply);
      }
      continue;
    }
    bool more = false;
    if (!syncInterest(instance, ctx, &more)) {
      return true;
    }
    pollfd p[2] = {{ctx->fd, POLLIN, 0}, {instance->wake_read, POLLIN, 0}};
    const int ready = ::poll(p, instance->wake_read >= 0 ? 2 : 1, more ? 0 : 100);
    if (stopping_.load()) {
      return true;
    }
    if (ready > 0 && (p[1].revents & POLLIN) != 0) {
      char drain[64];
      while (::read(instance->wake_read, drain, sizeof(drain)) > 0) {
      }
    }
    if (ready > 0 && p[0].revents != 0) {
      if (redisBufferRead(ctx) != REDIS_OK) {
        return true;  // closed or reset: the usual warning follows
      }
      continue;
    }
    if (more || (ready > 0 && (p[1].revents & POLLIN) != 0)) {
      continue;
    }
    if (ready < 0 && errno != EINTR) {
      return true;
    }
    const auto now = Clock::now();
    if (ping_sent) {
      if (now - *ping_sent >= pingTimeout()) {
        return false;
      }
      continue;
    }
    if (now - last_heard >= kIdleBeforePing) {
      // PING is allowed in subscribed mode; its answer is ["pong", ""].
      int done = 0;
      if (redisAppendCommand(ctx, "PING") != REDIS_OK) {
        return true;
      }
      while (done == 0) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK) {
          return true;
        }
      }
      ping_sent = now;
    }
  }
}

void RedisStreamEngine::subscribeLoop(Instance* instance) {
  auto log = componentLogger("redis");
  bool had_subscription = false;
  int attempt = 0;
  std::mt19937 rng{std::random_device{}()};
  while (!stopping_.load()) {
    // Through the sentinels, if any: the primary of now. Replies are bounded by the timeout
    // (a stopped Redis that still accepts connections would otherwise hold stop() forever).
    std::string dial_error;
    redisContext* ctx = dialRedis(instance->address, options_.timeout, &dial_error);
    bool subscribed = false;
    if (ctx != nullptr) {
      // Our marker channel first; the streams our nodes want follow (syncInterest).
      const std::string markers = markerChannel(instance->index);
      const std::string writes = pubsubPrefix(instance->index) + "!w";
      RedisReplyPtr reply(static_cast<redisReply*>(redisCommand(
          ctx, "SUBSCRIBE %b %b", markers.data(), markers.size(), writes.data(), writes.size())));
      subscribed = reply != nullptr && reply->type == REDIS_REPLY_ARRAY;
    }
    if (!subscribed) {
      if (ctx != nullptr) {
        redisFree(ctx);
      }
      // Exponential backoff with jitter, 100 ms .. 2 s; checked often enough to stop quickly.
      const int ceiling = std::min(2000, 100 << std::min(attempt++, 5));
      const int wait_ms = ceiling / 2 + static_cast<int>(rng() % (ceiling / 2 + 1));
      if (attempt == 1 || attempt % 10 == 0) {
        log->warn("redis {} unreachable for subscriptions; retrying (attempt {})",
                  instance->address.text, attempt);
      }
      for (int waited = 0; waited < wait_ms && !stopping_.load(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(instance->sub_mu);
      instance->sub_context = ctx;
    }
    resetInterest(instance);
    instance->subscribed = true;
    if (stopping_.load()) {
      // stop() may have looked before the context was published: do not block in a read.
      std::lock_guard<std::mutex> lock(instance->sub_mu);
      redisFree(ctx);
      instance->sub_context = nullptr;
      break;
    }
    if (had_subscription) {
      log->warn("redis {} subscription restored after a break", instance->address.text);
    } else {
      log->info("subscribed to publications on redis {}", instance->address.text);
    }
    // Nodes linked while there was no subscription (a break, or a late first one) missed
    // publications: they reconnect and resync from history. With none linked, a no-op.
    if (on_resubscribed_) {
      on_resubscribed_(instance->address.text);
    }
    had_subscription = true;
    attempt = 0;
    // Reads as they come; an idle connection is pinged, so that a silent cut (no FIN, no
    // RST: a dropped route, a frozen peer) is noticed within seconds, not after TCP
    // keepalive's ~30 s. stop() shuts the socket down, which ends the wait at once.
    redisSetTimeout(ctx, timeval{});
    // Reads wait in poll(); a write (a large SUBSCRIBE batch) must not block past the ping's
    // deadline on a cut that fills the socket's buffer: it fails, and the connection is lost.
    const auto send_ms = pingTimeout().count();
    timeval send_timeout{static_cast<time_t>(send_ms / 1000),
                         static_cast<suseconds_t>((send_ms % 1000) * 1000)};
    ::setsockopt(ctx->fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
    if (!readSubscription(instance, ctx)) {
      log->warn("redis {}: no answer to a ping within {} ms; the connection is taken for lost",
                instance->address.text, pingTimeout().count());
    }
    {
      // Under the lock, so that a waiter between its check and its sleep still hears it.
      std::lock_guard<std::mutex> lock(instance->interest_mu);
      instance->subscribed = false;
    }
    instance->confirmed_cv.notify_all();  // waiters for a subscription stop waiting
    {
      std::lock_guard<std::mutex> lock(instance->sub_mu);
      instance->sub_context = nullptr;
      redisFree(ctx);
    }
    if (!stopping_.load()) {
      log->warn("redis {} subscription lost; reconnecting", instance->address.text);
    }
  }
}

}  // namespace herald::control
