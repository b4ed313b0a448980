// herald-control, --engine redis: the services that run between replicas over the Redis peer
// channel (docs/operations.md "Presence and subscriber counts across replicas",
// "Connections per user across replicas").
#include "controlplane/control_server.h"
#include "controlplane/redis/redis_stream_engine.h"

namespace herald::control {

void ControlServer::startPeerServices(const std::string& id) {
  // Presence and subscriber counts through any replica: the others' nodes are asked too.
  ControlService* service = control_service_.get();
  replica_presence_ = std::make_unique<ReplicaPresence>(
      *redis_engine_, id, [service](const herald::v1::PresenceQuery& query, uint32_t* asked) {
        return service->localPresence(query, asked, ControlService::kPeerAnswerWithin);
      });
  control_service_->setReplicaPresence(replica_presence_.get());
  // max_connections_per_user across replicas: each tells the others its users' counts.
  replica_users_ = std::make_unique<ReplicaUserCounts>(
      *redis_engine_, id,
      [this](const std::string& replica, const ReplicaUserCounts::Counts& counts, bool full) {
        link_service_->announceUserLimits(users_.reportReplica(
            replica, counts, full, store_->limits().max_connections_per_user()));
      },
      [this](const std::string& replica) {
        link_service_->announceUserLimits(
            users_.forgetReplica(replica, store_->limits().max_connections_per_user()));
      },
      [this] { return users_.localUsers(); },
      [this]() -> std::optional<std::vector<std::string>> {
        auto live = replicas_->healthyIds(unixMillis());
        if (!live.isOk()) {
          return std::nullopt;
        }
        return std::move(live.value());
      });
  ReplicaPresence* presence = replica_presence_.get();
  ReplicaUserCounts* counts = replica_users_.get();
  redis_engine_->listen(id, [presence, counts](const std::string& payload) {
    if (!payload.empty() && (payload[0] == 'q' || payload[0] == 'r')) {
      presence->onMessage(payload);
    } else {
      counts->onMessage(payload);
    }
  });
  users_.setLocalListener([counts](const std::string& user, uint64_t connections) {
    counts->localChanged(user, connections);
  });
  replica_users_->start();
}

}  // namespace herald::control
