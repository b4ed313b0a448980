#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "common/publication_body.h"
#include "controlplane/api_key_store.h"
#include "controlplane/config_store.h"
#include "controlplane/control_metrics.h"
#include "controlplane/delivery_router.h"
#include "controlplane/node_registry.h"
#include "controlplane/presence_broker.h"
#include "controlplane/redis/replica_directory.h"
#include "controlplane/replica_presence.h"
#include "controlplane/stream_engine.h"
#include "herald/v1/control.grpc.pb.h"

namespace herald::control {

// Maps an internal Status to the gRPC status with the precise code (docs/api.md).
grpc::Status toGrpc(const Status& status);

// The Control API handlers. Input is validated here; the engines below trust it. Handlers run
// on gRPC's server threads, many at once: the only state of its own is the in-flight count
// (atomic) and the identity (under identity_mu_); everything else is in thread-safe stores.
class ControlService final : public herald::v1::Control::Service {
 public:
  ControlService(ConfigStore& store, ApiKeyStore& keys, StreamEngine& channels, NodeRegistry& nodes,
                 DeliveryRouter& router, PresenceBroker& presence,
                 ControlMetrics* metrics = nullptr)
      : store_(store),
        keys_(keys),
        channels_(channels),
        nodes_(nodes),
        router_(router),
        presence_(presence),
        metrics_(metrics) {}

  // How long Presence and ListChannels wait for nodes to answer.
  static constexpr std::chrono::milliseconds kPresenceTimeout{2000};
  // Most entries one node lists in a Presence answer.
  static constexpr uint32_t kPresenceEntriesPerNode = 10000;

  // Set once the port is bound (calls may already be running: hence the lock).
  void setListenAddress(std::string address) {
    std::lock_guard<std::mutex> lock(identity_mu_);
    listen_address_ = std::move(address);
  }
  // --engine redis: ListNodes and ClusterStats show every replica of the cluster.
  // `replica_id`: how the other replicas name this one (its reachable gRPC address).
  void setReplicaDirectory(ReplicaDirectory* directory, std::string replica_id) {
    std::lock_guard<std::mutex> lock(identity_mu_);
    replicas_ = directory;
    replica_id_ = std::move(replica_id);
    engine_ = "redis";
  }
  // --engine redis: Presence and ListChannels ask every replica's nodes through this.
  void setReplicaPresence(ReplicaPresence* presence) {
    std::lock_guard<std::mutex> lock(identity_mu_);
    replica_presence_ = presence;
  }
  // This replica's nodes' answers to `query` (a channel's entries, or counts): what a peer
  // replica gets back (ReplicaPresence::LocalAsk).
  std::vector<herald::v1::PresenceReply> localPresence(const herald::v1::PresenceQuery& query,
                                                       uint32_t* nodes_asked,
                                                       std::chrono::milliseconds timeout);
  // How long the nodes of the other replicas get to answer (shorter than kPresenceTimeout,
  // so that their answers arrive within it).
  static constexpr std::chrono::milliseconds kPeerAnswerWithin{1500};
  // This replica and its live nodes, as announced to the other replicas.
  herald::v1::ListNodesResponse selfEntry() const;
  // Calls being handled now; shutdown waits for this to reach zero (idle client connections
  // would otherwise hold gRPC's graceful shutdown until its deadline).
  int64_t inFlight() const { return in_flight_.load(); }

  using Ctx = grpc::ServerContext;
  grpc::Status CreateNamespace(Ctx*, const herald::v1::CreateNamespaceRequest*,
                               herald::v1::CreateNamespaceResponse*) override;
  grpc::Status GetNamespace(Ctx*, const herald::v1::GetNamespaceRequest*,
                            herald::v1::GetNamespaceResponse*) override;
  grpc::Status UpdateNamespace(Ctx*, const herald::v1::UpdateNamespaceRequest*,
                               herald::v1::UpdateNamespaceResponse*) override;
  grpc::Status DeleteNamespace(Ctx*, const herald::v1::DeleteNamespaceRequest*,
                               herald::v1::DeleteNamespaceResponse*) override;
  grpc::Status ListNamespaces(Ctx*, const herald::v1::ListNamespacesRequest*,
                              herald::v1::ListNamespacesResponse*) override;
  grpc::Status GetLimits(Ctx*, const herald::v1::GetLimitsRequest*,
                         herald::v1::GetLimitsResponse*) override;
  grpc::Status SetLimits(Ctx*, const herald::v1::SetLimitsRequest*,
                         herald::v1::SetLimitsResponse*) override;
  grpc::Status GetAuthSettings(Ctx*, const herald::v1::GetAuthSettingsRequest*,
                               herald::v1::GetAuthSettingsResponse*) override;
  grpc::Status SetAuthSettings(Ctx*, const herald::v1::SetAuthSettingsRequest*,
                               herald::v1::SetAuthSettingsResponse*) override;
  grpc::Status CreateApiKey(Ctx*, const herald::v1::CreateApiKeyRequest*,
                            herald::v1::CreateApiKeyResponse*) override;
  grpc::Status ListApiKeys(Ctx*, const herald::v1::ListApiKeysRequest*,
                           herald::v1::ListApiKeysResponse*) override;
  grpc::Status RevokeApiKey(Ctx*, const herald::v1::RevokeApiKeyRequest*,
                            herald::v1::RevokeApiKeyResponse*) override;
  grpc::Status Publish(Ctx*, const herald::v1::PublishRequest*,
                       herald::v1::PublishResponse*) override;
  grpc::Status PublishBatch(Ctx*, const herald::v1::PublishBatchRequest*,
                            herald::v1::PublishBatchResponse*) override;
  grpc::Status PublishStream(Ctx*, grpc::ServerReader<herald::v1::PublishRequest>*,
                             herald::v1::PublishStreamResponse*) override;
  grpc::Status Broadcast(Ctx*, const herald::v1::BroadcastRequest*,
                         herald::v1::BroadcastResponse*) override;
  grpc::Status SendToUser(Ctx*, const herald::v1::SendToUserRequest*,
                          herald::v1::SendToUserResponse*) override;
  grpc::Status Disconnect(Ctx*, const herald::v1::DisconnectRequest*,
                          herald::v1::DisconnectResponse*) override;
  grpc::Status Subscribe(Ctx*, const herald::v1::SubscribeRequest*,
                         herald::v1::SubscribeResponse*) override;
  grpc::Status Unsubscribe(Ctx*, const herald::v1::UnsubscribeRequest*,
                           herald::v1::UnsubscribeResponse*) override;
  grpc::Status Refresh(Ctx*, const herald::v1::RefreshRequest*,
                       herald::v1::RefreshResponse*) override;
  grpc::Status RevokeToken(Ctx*, const herald::v1::RevokeTokenRequest*,
                           herald::v1::RevokeTokenResponse*) override;
  grpc::Status ListNodes(Ctx*, const herald::v1::ListNodesRequest*,
                         herald::v1::ListNodesResponse*) override;
  grpc::Status ListChannels(Ctx*, const herald::v1::ListChannelsRequest*,
                            herald::v1::ListChannelsResponse*) override;
  grpc::Status History(Ctx*, const herald::v1::HistoryRequest*,
                       herald::v1::HistoryResponse*) override;
  grpc::Status Presence(Ctx*, const herald::v1::PresenceRequest*,
                        herald::v1::PresenceResponse*) override;
  grpc::Status ClusterStats(Ctx*, const herald::v1::ClusterStatsRequest*,
                            herald::v1::ClusterStatsResponse*) override;
  grpc::Status Info(Ctx*, const herald::v1::InfoRequest*, herald::v1::InfoResponse*) override;

 private:
  // Validates one publish request; on success fills the response. `api`: the RPC, for /metrics.
  Status publishOne(const char* api, const herald::v1::PublishRequest& request,
                    herald::v1::PublishResponse* response);
  // The publish itself, for a request already validated; `ns` is its channel's namespace.
  Status publishValidated(const char* api, const herald::v1::PublishRequest& request,
                          std::string_view ns, herald::v1::PublishResponse* response);
  // Sends a command to the nodes that may hold a connection of `user` (every node when
  // `client` is given); returns how many (control_service_sessions.cc).
  uint32_t sendToTargets(const std::string& user, const std::string& client,
                         ControlMessagePtr message);
  // Counts publications for /metrics (ControlMetrics::namespaceLabel).
  void countPublication(const char* api, const herald::v1::ConfigSnapshot& config,
                        std::string_view ns, std::string_view channel);

  // Counts one handler invocation for inFlight().
  class CallGuard {
   public:
    explicit CallGuard(std::atomic<int64_t>& n) : n_(n) { n_.fetch_add(1); }
    ~CallGuard() { n_.fetch_sub(1); }

   private:
    std::atomic<int64_t>& n_;
  };

  // Which role an RPC needs; admin keys may call everything.
  enum class Need { kAdmin, kPublisher, kReader };
  // UNAUTHENTICATED without a valid `authorization: Bearer <key>`, PERMISSION_DENIED when the
  // key's role does not cover `rpc`.
  grpc::Status authorize(Ctx* ctx, Need need, const char* rpc) const;
  // Every handler's frame: counted for inFlight(), the key's role checked, then `handler`
  // (returning Herald's Status) runs; its Status becomes a gRPC one only here.
  template <typename Handler>
  grpc::Status guarded(Ctx* ctx, Need need, const char* rpc, Handler&& handler) {
    CallGuard guard(in_flight_);
    const int64_t start = steadyMicros();
    grpc::Status result = authorize(ctx, need, rpc);
    if (result.ok()) {
      result = toGrpc(handler());
    }
    if (metrics_ != nullptr) {
      metrics_->recordCall(rpc, result.error_code(), steadyMicros() - start);
    }
    return result;
  }

  std::atomic<int64_t> in_flight_{0};
  ConfigStore& store_;
  ApiKeyStore& keys_;
  StreamEngine& channels_;
  NodeRegistry& nodes_;
  DeliveryRouter& router_;
  PresenceBroker& presence_;
  ControlMetrics* const metrics_;
  const int64_t started_unix_ms_ = unixMillis();
  mutable std::mutex identity_mu_;
  std::string listen_address_;  // under identity_mu_
  ReplicaDirectory* replicas_ = nullptr;
  ReplicaPresence* replica_presence_ = nullptr;
  std::string replica_id_;
  std::string engine_ = "memory";
  struct Identity {
    std::string listen_address;
    std::string engine;
    ReplicaDirectory* replicas;
    std::string replica_id;
    ReplicaPresence* presence;
  };
  Identity identity() const {
    std::lock_guard<std::mutex> lock(identity_mu_);
    return {listen_address_, engine_, replicas_, replica_id_, replica_presence_};
  }
  // The nodes' answers to `query` through the whole cluster: this replica's nodes and, with
  // several replicas, every other live replica's. `*partial` names what did not answer.
  PresenceBroker::Gathered clusterPresence(const herald::v1::PresenceQuery& query,
                                           std::string* partial);
  // Every node of the cluster (this replica's and, with redis, the others'), one entry per
  // node id, and the replicas; `*unavailable` set when Redis could not be read.
  herald::v1::ListNodesResponse clusterNodes(bool live_only, std::string* unavailable) const;
};

}  // namespace herald::control
