#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include <grpcpp/grpcpp.h>

#include "controlplane/api_key_store.h"
#include "controlplane/config_store.h"
#include "controlplane/config_store_impl.h"
#include "controlplane/control_config.h"
#include "controlplane/control_metrics.h"
#include "controlplane/control_service.h"
#include "controlplane/events/cluster_event_relay.h"
#include "controlplane/events/cluster_presence.h"
#include "controlplane/events/event_publisher.h"
#include "controlplane/http/control_http_server.h"
#include "controlplane/lost_node_leaves.h"
#include "controlplane/node_admission.h"
#include "controlplane/node_link_service.h"
#include "controlplane/node_registry.h"
#include "controlplane/presence_broker.h"
#include "controlplane/redis/redis_client.h"
#include "controlplane/redis/replica_directory.h"
#include "controlplane/replica_user_counts.h"
#include "controlplane/router.h"
#include "controlplane/stream_engine.h"

namespace herald::control {

class RedisStreamEngine;

// Wires herald-control: state, routing, both gRPC services and the heartbeat sweeper.
class ControlServer {
 public:
  // Loads state from the data dir; throws std::runtime_error with a clear message on failure.
  explicit ControlServer(ControlConfig config);
  ~ControlServer();

  // Binds and starts serving; throws when the address cannot be bound. Returns "host:port"
  // with the port actually bound (for --grpc-listen HOST:0).
  std::string start();
  // Stops accepting, lets in-flight RPCs finish until `grace`, then cancels the rest.
  void shutdown(std::chrono::milliseconds grace);
  void wait();

  // "host:port" of the HTTP port once started (empty with --http-listen off).
  const std::string& httpAddress() const { return http_address_; }
  // /metrics (Prometheus text) and /health (JSON) of this process.
  std::string metricsText() const;
  std::string healthJson() const;

 private:
  void sweepLoop();
  // First start: make sure an admin key exists (the operator's, or a new one printed once).
  void bootstrapAdminKey();
  // Who may join over NodeLink (secret, client certificates, or this host only); warns when
  // nodes on other hosts could join unchecked.
  NodeAdmission nodeAdmission() const;
  std::string resolveNodeSecret() const;

  const ControlConfig config_;
  std::string node_secret_;  // the one nodes must present: given, or generated in the data dir
  Router router_;
  UserConnections users_;
  std::unique_ptr<StreamEngine> channels_;
  RedisStreamEngine* redis_engine_ = nullptr;  // channels_, with --engine redis (for /metrics)
  std::function<void()> start_engine_;
  std::function<void()> stop_engine_;
  // --engine redis: where the config and the replica directory live.
  RedisAddress configRedis() const;
  // --engine redis, once this replica's id is known: presence across replicas and the
  // per-user counts exchange (control_server_peers.cc).
  void startPeerServices(const std::string& id);  // the redis engine's subscriber threads
  PresenceBroker presence_;
  NodeRegistry nodes_{router_};
  ConfigStorePtr store_;
  ApiKeyStorePtr keys_;
  std::unique_ptr<ControlService> control_service_;
  // Events to the backend (config `events`); null when none are configured.
  std::unique_ptr<EventPublisher> events_;
  std::unique_ptr<ClusterPresence> cluster_presence_;
  // --engine redis with events: the cluster's one event stream; null otherwise.
  std::unique_ptr<ClusterEventRelay> event_relay_;
  std::unique_ptr<NodeHandover> node_handover_;
  std::unique_ptr<NodeLinkService> link_service_;
  std::unique_ptr<LostNodeLeaves> lost_nodes_;
  // The nodes other replicas list as healthy (--engine redis; none with one replica), or
  // nullopt when Redis cannot be read.
  std::optional<std::unordered_set<std::string>> nodesOnOtherReplicas() const;
  std::unique_ptr<grpc::Server> server_;
  ControlMetrics metrics_;
  std::unique_ptr<ControlHttpServer> http_;
  std::string http_address_;

  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
  // --engine redis: polls the shared config for other replicas' changes.
  ConfigStoreImpl* shared_config_ = nullptr;
  std::unique_ptr<ReplicaDirectory> replicas_;
  // --engine redis: answers the other replicas' presence queries (after control_service_,
  // which it calls, so that it goes first).
  std::unique_ptr<ReplicaPresence> replica_presence_;
  std::unique_ptr<ReplicaUserCounts> replica_users_;  // ...and tells them its users' counts
  // replicas_ and this replica's id there, for the sweep thread (set once the server listens).
  std::atomic<ReplicaDirectory*> directory_{nullptr};
  std::string replica_id_;
  std::thread config_watcher_;
  void watchConfigLoop();
};

}  // namespace herald::control
