// RedisStreamEngine, per-channel routing: the subscriber thread of each instance subscribes to
// the pub/sub channels of the streams this replica's nodes want (as the Router reports), and
// to nothing else but its own marker channel, so Redis sends a replica only what it delivers.
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/stream_keys.h"
#include "controlplane/redis/redis_engine_instance.h"

namespace herald::control {

namespace {
// Streams per SUBSCRIBE or UNSUBSCRIBE command, and per syncInterest() call: the subscriber
// reads between batches, so confirmations of a large resubscribe never pile up unread.
constexpr size_t kStreamsPerBatch = 1000;
// How long a stream no node wants stays subscribed.
constexpr auto kUnsubscribeAfter = std::chrono::seconds(2);
}  // namespace

RedisStreamEngine::Instance::Instance() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0) {
    wake_read = fds[0];
    wake_write = fds[1];
  }
}

RedisStreamEngine::Instance::~Instance() {
  for (int fd : {wake_read, wake_write}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

std::string RedisStreamEngine::markerChannel(size_t instance) const {
  return pubsubPrefix(instance) + "!sync:" + marker_token_;
}

void RedisStreamEngine::interestChanged(const std::string& stream_key, bool wanted) {
  Instance& instance = *instances_[instanceFor(stream_key)];
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(instance.interest_mu);
    if (wanted) {
      instance.wanted.insert(stream_key);
      wake = instance.dirty.empty();
      instance.dirty.insert(stream_key);
    } else {
      instance.wanted.erase(stream_key);
      instance.released.emplace_back(std::chrono::steady_clock::now() + kUnsubscribeAfter,
                                     stream_key);
    }
  }
  if (wake && instance.wake_write >= 0) {
    const char byte = 1;
    // Full pipe (EAGAIN): a wake-up is pending anyway.
    [[maybe_unused]] ssize_t n = ::write(instance.wake_write, &byte, 1);
  }
  instance.confirmed_cv.notify_all();  // a waiter for a stream no longer wanted stops waiting
}

bool RedisStreamEngine::awaitSubscribed(const std::string& name, bool user_stream,
                                        std::chrono::milliseconds max) const {
  const std::string key = user_stream ? userStreamKey(name) : name;
  Instance& instance = *instances_[instanceFor(key)];
  std::unique_lock<std::mutex> lock(instance.interest_mu);
  return instance.confirmed_cv.wait_for(lock, max, [&] {
    // Not subscribed at all (Redis away): the nodes resync when the subscription returns.
    // No node wants it (any more): nothing to deliver live.
    return !instance.subscribed.load() || instance.confirmed.count(key) > 0 ||
           instance.wanted.count(key) == 0 || stopping_.load();
  });
}

void RedisStreamEngine::resetInterest(Instance* instance) {
  instance->sent.clear();
  instance->unanswered.clear();
  std::lock_guard<std::mutex> lock(instance->interest_mu);
  instance->confirmed.clear();
  instance->dirty.insert(instance->wanted.begin(), instance->wanted.end());
}

bool RedisStreamEngine::syncInterest(Instance* instance, redisContext* ctx, bool* more) {
  std::vector<std::string> subscribe{"SUBSCRIBE"};
  std::vector<std::string> unsubscribe{"UNSUBSCRIBE"};
  std::vector<std::string> subscribing;
  const std::string prefix = pubsubPrefix(instance->index);
  {
    std::lock_guard<std::mutex> lock(instance->interest_mu);
    const auto now = std::chrono::steady_clock::now();
    while (!instance->released.empty() && instance->released.front().first <= now) {
      if (instance->wanted.count(instance->released.front().second) == 0) {
        instance->dirty.insert(std::move(instance->released.front().second));
      }
      instance->released.pop_front();
    }
    size_t taken = 0;
    for (auto it = instance->dirty.begin(); it != instance->dirty.end() && taken < kStreamsPerBatch;
         ++taken) {
      const std::string& key = *it;
      const bool wanted = instance->wanted.count(key) > 0;
      const bool subscribed = instance->sent.count(key) > 0;
      if (wanted && !subscribed) {
        subscribe.push_back(prefix + key);
        subscribing.push_back(key);
      } else if (!wanted && subscribed) {
        unsubscribe.push_back(prefix + key);
        instance->sent.erase(key);
        instance->confirmed.erase(key);
      }
      it = instance->dirty.erase(it);
    }
    *more = !instance->dirty.empty();
  }
  for (const auto& key : subscribing) {
    instance->sent.insert(key);
    ++instance->unanswered[key];
  }
  for (auto* command : {&subscribe, &unsubscribe}) {
    if (command->size() < 2) {
      continue;
    }
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& arg : *command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return false;
    }
  }
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx, &done) != REDIS_OK) {
      return false;
    }
  }
  return true;
}

void RedisStreamEngine::onSubscriptionReply(Instance* instance, const redisReply& reply) {
  // ["subscribe", channel, count]: the stream is live for us from here on.
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 ||
      reply.element[0]->type != REDIS_REPLY_STRING ||
      reply.element[1]->type != REDIS_REPLY_STRING ||
      std::string(reply.element[0]->str, reply.element[0]->len) != "subscribe") {
    return;
  }
  const std::string prefix = pubsubPrefix(instance->index);
  const std::string channel(reply.element[1]->str, reply.element[1]->len);
  if (channel.compare(0, prefix.size(), prefix) != 0) {
    return;
  }
  const std::string key = channel.substr(prefix.size());
  auto it = instance->unanswered.find(key);
  if (it == instance->unanswered.end()) {
    return;
  }
  if (--it->second > 0) {
    return;  // a later SUBSCRIBE of it is still unanswered
  }
  instance->unanswered.erase(it);
  if (instance->sent.count(key) == 0) {
    return;  // unsubscribed since
  }
  {
    std::lock_guard<std::mutex> lock(instance->interest_mu);
    instance->confirmed.insert(key);
  }
  instance->confirmed_cv.notify_all();
}

void RedisStreamEngine::listen(const std::string& self, Handler handler) {
  peer_handler_ = std::move(handler);
  interestChanged("!peer:" + self, true);  // '!': never a stream's key
  interestChanged("!peer:*", true);
}

Result<uint64_t> RedisStreamEngine::send(const std::string& to, const std::string& payload) {
  const std::string key = "!peer:" + to;
  const size_t instance = instanceFor(key);
  auto reply = connectionOf(instance).command({"PUBLISH", pubsubPrefix(instance) + key, payload});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply.value().type != RedisValue::Type::kInteger) {
    return redis_engine_detail::unexpected(reply.value(), "peer message");
  }
  return static_cast<uint64_t>(reply.value().integer);
}

RedisStreamEngine::PubSubStats RedisStreamEngine::pubsubStats() const {
  PubSubStats stats;
  for (const auto& instance : instances_) {
    stats.messages += instance->received_messages.load(std::memory_order_relaxed);
    stats.bytes += instance->received_bytes.load(std::memory_order_relaxed);
    stats.writes_seen.emplace_back(instance->address.text,
                                   instance->writes_seen.load(std::memory_order_relaxed));
    std::lock_guard<std::mutex> lock(instance->interest_mu);
    for (const auto& key : instance->confirmed) {
      stats.streams += !key.empty() && key[0] != '!' ? 1 : 0;  // not the replicas' own channels
    }
  }
  return stats;
}

}  // namespace herald::control
