#pragma once
// ClusterEventLog over one Redis (the one holding the config): Lua scripts for the steps
// that must be atomic (redis_event_scripts.h), plain commands for the rest.
#include <chrono>
#include <string>
#include <vector>

#include "controlplane/events/cluster_event_log.h"
#include "controlplane/redis/redis_client.h"

namespace herald::control {

class RedisEventLog final : public ClusterEventLog {
 public:
  RedisEventLog(const RedisAddress& address, std::chrono::milliseconds timeout);

  Result<Appended> append(const std::string& member, uint64_t seq, bool known,
                          const std::vector<LogItem>& items, int64_t time_ms,
                          size_t stream_limit) override;
  Result<bool> heartbeat(const std::string& member, std::chrono::milliseconds ttl) override;
  Result<std::vector<std::string>> lostMembers() override;
  Result<int64_t> sweep(const std::string& member, const Sweep& how) override;
  Result<bool> lead(const std::string& member, std::chrono::milliseconds ttl) override;
  void resign(const std::string& member) override;
  Result<std::string> position(const std::string& receiver) override;
  Status commit(const std::string& member, const std::string& receiver,
                const std::string& id) override;
  Result<std::vector<LoggedEvent>> read(const std::string& after, size_t count) override;
  Status trim(const std::string& upto) override;

 private:
  RedisConnection conn_;
};

// A stream entry's fields as an event (false: not one of ours).
bool eventFromStreamEntry(const RedisValue& entry, LoggedEvent* event);

}  // namespace herald::control
