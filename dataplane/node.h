#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/auth/jwks_refresher.h"
#include "dataplane/fanout/delivery_tally.h"
#include "dataplane/hooks/hook_caller.h"
#include "dataplane/http/http_routes.h"
#include "dataplane/link/client_event_log.h"
#include "dataplane/link/control_uplink.h"
#include "dataplane/link/interest_tracker.h"
#include "dataplane/link/join_leave_batch.h"
#include "dataplane/link/join_leave_reporter.h"
#include "dataplane/link/link_resync.h"
#include "dataplane/link/node_link_client.h"
#include "dataplane/link/node_link_handler.h"
#include "dataplane/node_config.h"
#include "dataplane/node_settings.h"
#include "dataplane/shard/shard.h"

namespace herald::node {

// Wires herald-node: shards, the NodeLink client, and the HTTP routes. Its methods run on
// the caller's thread (start, shutdown), the NodeLink reader (what the link delivers) or any
// shard (ControlUplink, HTTP handlers: thread-safe).
class Node : private NodeLinkHandler, private LinkResync::Output, private ControlUplink {
 public:
  explicit Node(NodeConfig config);
  ~Node();

  // Binds every shard on the listen address and connects to the control plane.
  // Returns "host:port" actually bound. Throws on bind failure.
  std::string start();
  // Closes client connections with 1012 (service restart), waits up to `grace` for them to
  // go, then stops the link and the shards.
  void shutdown(std::chrono::milliseconds grace);

  // Channels with most subscribers the heartbeat reports (for ClusterStats), found anew at
  // most this often.
  static constexpr size_t kReportedTopChannels = 20;
  static constexpr std::chrono::seconds kTopChannelsEvery{5};
  // A join / leave report is dropped rather than queued behind this many NodeLink messages.
  static constexpr size_t kMaxWaitingForJoinLeave = 64;

  herald::v1::NodeStats stats() const;
  uint64_t sumOverShards(std::atomic<uint64_t> ShardCounters::*counter) const;
  LatencyHistogram::Snapshot histogramOverShards(LatencyHistogram ShardCounters::*histogram) const;
  uint64_t backpressureWaits() const;
  std::string statsJson() const;
  // /metrics: Prometheus text format (node_metrics.cc).
  std::string metricsText() const;

 private:
  // NodeLinkHandler: what the link delivers (NodeLink reader thread).
  void onSessionStarted() override;
  void onHelloSent(const herald::v1::Hello& hello) override;
  Status onConfig(const herald::v1::ConfigSnapshot& snapshot) override;
  void onDeliver(const herald::v1::Deliver& deliver) override;
  void onDisconnect(const herald::v1::DisconnectCommand& command) override;
  void onServerCommand(const herald::v1::ControlMessage& command) override;
  void onJoinLeave(const herald::v1::JoinLeave& change) override;
  void onUserLimit(const herald::v1::UserLimit& limit) override;
  void onRecovered(const herald::v1::RecoverResponse& page) override;
  void onPublished(const herald::v1::ClientPublishResult& result) override;
  void onPresenceQuery(const herald::v1::PresenceQuery& query) override;
  herald::v1::NodeStats currentStats() override;
  // LinkResync::Output: a delivery to every shard; the resync's history requests.
  void dispatch(const DeliveryPtr& delivery) override;
  bool requestFirst(const herald::v1::RecoverRequest& request) override;
  template <typename Command, typename Post>
  void toShards(const Command& command, const Post& post);
  void addHttpRoutes();
  // New keys from the JWKS URL: the settings again, from the last snapshot (JWKS thread).
  void onJwksKeys();
  HttpResponse health() const;
  // ControlUplink, for the shards.
  bool recover(const herald::v1::RecoverRequest& request) override;
  bool publish(const herald::v1::ClientPublish& request) override;

  NodeConfig config_;
  InterestTracker interest_;
  ClientEventLog client_log_;  // before link_, which reads it
  JoinLeaveBatch join_leave_;  // joins and leaves of join_leave channels; outlives the shards
  // The last snapshot applied, to build settings again when the JWKS keys change; settings are
  // built and applied under settings_mu_ (NodeLink reader thread, JWKS thread).
  std::mutex settings_mu_;
  std::shared_ptr<const herald::v1::ConfigSnapshot> last_snapshot_;
  std::atomic<uint64_t> node_connections_{0};
  IpLimiter ip_limiter_;
  BlockedUsers blocked_users_;
  ChannelSubscribers channel_subscribers_;
  DeliveryTallies delivery_tallies_;
  std::mutex top_channels_mu_;
  std::vector<std::pair<std::string, uint32_t>> top_channels_;
  std::chrono::steady_clock::time_point top_channels_at_;
  std::atomic<uint64_t> config_version_{0};
  std::atomic<bool> draining_{false};
  uint64_t session_config_high_water_ = 0;  // NodeLink reader thread only
  HttpRoutes routes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  // After shards_: destroyed (its workers joined) before them, since answers post to shards.
  HookCaller hooks_;
  std::unique_ptr<NodeLinkClient> link_;
  // Sends join_leave_ over link_ every 100 ms; stopped (and destroyed) before link_.
  std::unique_ptr<JoinLeaveReporter> join_leave_reporter_;
  // After shards_ and hooks_: stopped (its thread joined) first, since it applies settings.
  JwksRefresher jwks_{[this] { onJwksKeys(); }};
  std::unique_ptr<LinkResync> resync_;  // NodeLink reader thread only
  std::string address_;
  bool stopped_ = false;
};

}  // namespace herald::node
