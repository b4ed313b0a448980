#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/redis/redis_client.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

/**
 * The replicas of a Redis-backed cluster: each replica announces itself and its live nodes
 * every second under herald:replica:<id> with a 3 s TTL, so a replica that dies drops out by
 * itself. ListNodes and ClusterStats read every entry to show the whole cluster.
 */
class ReplicaDirectory {
 public:
  static constexpr std::chrono::milliseconds kTtl{3000};
  static constexpr std::chrono::milliseconds kHealthyWithin{2000};

  ReplicaDirectory(const RedisAddress& address, std::chrono::milliseconds timeout);

  // `self.replicas(0)` describes the replica; `self.nodes` its live nodes.
  Status announce(const herald::v1::ListNodesResponse& self);
  // Every replica's last announcement (replicas[0] of each), health filled in from `now_ms`.
  Result<std::vector<herald::v1::ListNodesResponse>> all(int64_t now_unix_ms);
  // The ids of the replicas healthy at `now_ms` (announced within kHealthyWithin).
  Result<std::vector<std::string>> healthyIds(int64_t now_unix_ms);

 private:
  RedisConnection conn_;
};

}  // namespace herald::control
