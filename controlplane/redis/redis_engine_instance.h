#pragma once
// Inside the redis stream engine: what its two source files share (redis_stream_engine.cc
// publishes and reads, redis_stream_subscriber.cc receives). Not for other code.
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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
  std::atomic<int64_t> role_checked_ms{0};  // Sentinel: when ROLE was last read
  std::atomic<uint32_t> replicas{0};        // ...and how many replicas it listed
  RedisAddress address;
  std::vector<std::unique_ptr<RedisConnection>> pool;
  std::thread subscriber;
  std::mutex sub_mu;
  redisContext* sub_context = nullptr;  // under sub_mu, for stop() to unblock the reader
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
