#pragma once
// Inside the redis stream engine: what its two source files share (redis_stream_engine.cc
// publishes and reads, redis_stream_subscriber.cc receives). Not for other code.
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "controlplane/redis/redis_client.h"
#include "controlplane/redis/redis_stream_engine.h"

namespace herald::control {

// One Redis instance: a pool of command connections and the subscriber thread that receives
// its publications. `sub_context` is shared between that thread and stop().
struct RedisStreamEngine::Instance {
  size_t index = 0;
  std::atomic<bool> subscribed{false};  // a marker can only come back while subscribed
  // The highest count of acknowledged writes (`herald:w`) seen from this instance: a lower
  // one after a Redis restart means it lost writes (redis_scripts.h).
  std::atomic<uint64_t> writes_seen{0};
  // ...of which our own publications' replies, and how far the other replicas were told it.
  std::atomic<uint64_t> writes_own{0};
  uint64_t writes_gossiped = 0;             // gossip thread only
  std::atomic<int64_t> role_checked_ms{0};  // Sentinel: when ROLE was last read
  std::atomic<uint32_t> replicas{0};        // ...and how many replicas it listed
  RedisAddress address;
  std::vector<std::unique_ptr<RedisConnection>> pool;
  std::thread subscriber;
  std::mutex sub_mu;
  redisContext* sub_context = nullptr;  // under sub_mu, for stop() to unblock the reader

  // Per-channel routing (redis_stream_interest.cc): the streams this replica's nodes want, those
  // changed since the subscriber last looked, and those whose SUBSCRIBE Redis has confirmed.
  std::mutex interest_mu;
  std::condition_variable confirmed_cv;
  std::unordered_set<std::string> wanted;
  std::unordered_set<std::string> dirty;
  std::unordered_set<std::string> confirmed;
  // Streams no node wants any more, with when to unsubscribe: a node that relinks, or a
  // channel whose last subscriber leaves and another comes, keeps its subscription.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> released;
  // Subscriber thread only: the streams subscribed on the current connection, and the SUBSCRIBEs
  // not answered yet per stream (a stream is confirmed when subscribed with none unanswered:
  // replies come in order, so an old SUBSCRIBE's answer cannot confirm a newer one).
  std::unordered_set<std::string> sent;
  std::unordered_map<std::string, uint32_t> unanswered;
  // Written to wake the subscriber when `dirty` gains its first entry.
  int wake_read = -1;
  int wake_write = -1;
  // What the subscription received (publications, joins and leaves, markers), for /metrics.
  std::atomic<uint64_t> received_messages{0};
  std::atomic<uint64_t> received_bytes{0};

  Instance();
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
};

namespace redis_engine_detail {

inline Status unexpected(const RedisValue& v, const char* what) {
  if (v.type == RedisValue::Type::kError) {
    return Status(ErrorCode::kUnavailable, std::string(what) + ": redis error: " + v.str);
  }
  return Status(ErrorCode::kInternal, std::string(what) + ": unexpected reply from redis");
}

inline uint64_t toU64(const std::string& text) {
  return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

}  // namespace redis_engine_detail
}  // namespace herald::control
