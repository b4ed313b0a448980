#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "controlplane/config_store.h"
#include "controlplane/control_metrics.h"
#include "controlplane/events/cluster_presence.h"
#include "controlplane/lost_node_leaves.h"
#include "controlplane/node_admission.h"
#include "controlplane/node_registry.h"
#include "controlplane/presence_broker.h"
#include "controlplane/router.h"
#include "controlplane/stream_engine.h"
#include "controlplane/user_connections.h"
#include "herald/v1/node_link.grpc.pb.h"

namespace herald::control {

// NodeLink.Session: Hello → full config snapshot → Ack/Nack, stats, interest deltas,
// recovery requests (answered from history), client publications and presence replies.
class NodeLinkService final : public herald::v1::NodeLink::Service {
 public:
  // Most publications and data bytes in one RecoverResponse page.
  static constexpr uint32_t kRecoverPageSize = 1000;
  // How long a recovery waits for this replica's Redis subscription to the stream.
  static constexpr std::chrono::milliseconds kAwaitSubscribed{2000};
  static constexpr size_t kRecoverPageBytes = 1 << 20;
  // Client publications of one node waiting to be published; more are refused (unavailable).
  static constexpr size_t kMaxQueuedClientPublishes = 4096;
  // What one JoinLeaveReport may carry (the node's own bounds, JoinLeaveBatch): channels read,
  // and entries listed per channel and kind; the rest of the entries only count as unlisted.
  static constexpr int kMaxJoinLeaveChannels = 10000;
  static constexpr int kMaxJoinLeaveListed = 100;
  // A node's reports (one per 100 ms window, in parts of 256 KiB) waiting to be relayed; more
  // are dropped and counted as failed.
  static constexpr size_t kMaxQueuedJoinLeaveReports = 32;

  NodeLinkService(ConfigStore& store, NodeRegistry& registry, Router& router,
                  UserConnections& users, StreamEngine& channels, PresenceBroker& presence,
                  size_t node_queue_limit, NodeAdmission admission,
                  ControlMetrics* metrics = nullptr)
      : store_(store),
        registry_(registry),
        router_(router),
        users_(users),
        channels_(channels),
        presence_(presence),
        node_queue_limit_(node_queue_limit),
        admission_(std::move(admission)),
        metrics_(metrics) {}

  grpc::Status Session(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<herald::v1::ControlMessage,
                                                herald::v1::NodeMessage>* stream) override;

  // Cancels streams that have not said Hello within `timeout` (all of them when zero): a
  // handler blocked on the first read would otherwise hold a thread and stall Shutdown.
  size_t cancelSilentStreams(std::chrono::milliseconds timeout);

  // Tells every node which users crossed max_connections_per_user (either way).
  void announceUserLimits(const UserConnections::Changes& changes);
  // Nodes' users and channels feed the events to the backend (docs/hooks.md "Events").
  // Set before the server starts; null: no events.
  void setPresenceEvents(ClusterPresence* presence) { presence_events_ = presence; }
  // Leaves for the connections of nodes that go away (join_leave namespaces). Set before the
  // server starts; null: none.
  void setLostNodeLeaves(LostNodeLeaves* lost) { lost_nodes_ = lost; }

 private:
  // Answers one page of a recovery from history.
  static ControlMessagePtr recover(const StreamEngine& channels,
                                   const herald::v1::RecoverRequest& request);
  // A node's joins and leaves (NodeMessage.join_leave), checked and handed to the engine.
  void relayJoinLeave(const std::string& node_id, const herald::v1::JoinLeaveReport& report);
  // A heartbeat's deliveries (`total` since the previous one) into the stats windows.
  void recordDeliveries(const herald::v1::NodeStats& stats, uint64_t total);

  ConfigStore& store_;
  NodeRegistry& registry_;
  Router& router_;
  UserConnections& users_;
  StreamEngine& channels_;
  PresenceBroker& presence_;
  const size_t node_queue_limit_;
  const NodeAdmission admission_;
  ControlMetrics* const metrics_;  // client publications counted; null in tests
  ClusterPresence* presence_events_ = nullptr;
  LostNodeLeaves* lost_nodes_ = nullptr;
  std::mutex pending_mu_;
  std::map<grpc::ServerContext*, std::chrono::steady_clock::time_point> awaiting_hello_;
};

}  // namespace herald::control
