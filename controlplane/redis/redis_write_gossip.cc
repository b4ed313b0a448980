// RedisStreamEngine: the replicas tell each other the acknowledged-write count of each Redis
// (redis_scripts.h), so that a Redis that comes back with fewer writes is caught by any of
// them, not only by one whose nodes wanted the streams written.
#include <thread>

#include "controlplane/redis/redis_engine_instance.h"

namespace herald::control {

void RedisStreamEngine::gossipLoop() {
  // At most 100 messages a second per replica, however fast it publishes; a Redis that dies
  // within this of a write may still take that write's count with it unseen by the others.
  constexpr auto kPeriod = std::chrono::milliseconds(10);
  while (!stopping_.load()) {
    for (auto& instance : instances_) {
      const uint64_t own = instance->writes_own.load(std::memory_order_relaxed);
      if (own <= instance->writes_gossiped) {
        continue;
      }
      auto reply =
          connectionOf(instance->index)
              .command({"PUBLISH", pubsubPrefix(instance->index) + "!w", std::to_string(own)});
      if (reply.isOk()) {
        instance->writes_gossiped = own;
      }
    }
    std::this_thread::sleep_for(kPeriod);
  }
}

}  // namespace herald::control
