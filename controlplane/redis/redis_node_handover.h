#pragma once
// NodeHandover over the cluster's event keys in Redis (redis_event_scripts.h): a node's
// connections are kept there, as appended to the event stream, under the replica that
// reports it.
#include <chrono>
#include <functional>
#include <string>

#include "controlplane/events/node_handover.h"
#include "controlplane/redis/redis_client.h"

namespace herald::control {

class RedisNodeHandover final : public NodeHandover {
 public:
  // `on_failure(node, instance)`: Redis could not be asked; the claim must be made later, in
  // order with this replica's events (ClusterEventRelay::claimNode).
  using Failure = std::function<void(const std::string& node, const std::string& instance)>;
  RedisNodeHandover(const RedisAddress& address, std::chrono::milliseconds timeout,
                    std::string member, Failure on_failure);
  std::optional<Previous> takeOver(const std::string& node, const std::string& instance,
                                   bool always) override;

 private:
  RedisConnection conn_;
  const std::string member_;
  const Failure on_failure_;
};

}  // namespace herald::control
