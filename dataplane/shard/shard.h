#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/rate_limiter.h"
#include "dataplane/session/blocked_users.h"
#include "dataplane/session/channel_subscribers.h"
#include "dataplane/link/interest_tracker.h"
#include "dataplane/node_settings.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

// A WebSocket frame built once (header + payload) and sent as-is to every recipient.
struct PreparedFrame;
using PreparedFramePtr = std::shared_ptr<const PreparedFrame>;
PreparedFramePtr prepareTextFrame(const std::string& payload);

// One publication on its way to the shards: immutable, shared by all of them.
struct Delivery {
  herald::v1::DeliveryTarget target = herald::v1::DELIVERY_TARGET_CHANNEL;
  std::string channel;
  std::string user;
  uint64_t offset = 0;  // position in the channel's or user's stream; 0 for broadcasts
  PreparedFramePtr frame;
};
using DeliveryPtr = std::shared_ptr<const Delivery>;

// Written by the owning shard only, read by anyone (relaxed): no lock on the hot path.
struct alignas(64) ShardCounters {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> users{0};
  std::atomic<uint64_t> subscriptions{0};
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> slow_consumers_closed{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> tokens_expired{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> refused_origin{0};
  std::atomic<uint64_t> refused_ip_rate{0};
  std::atomic<uint64_t> refused_user_limit{0};
  std::atomic<uint64_t> subscribe_denied{0};
  std::atomic<uint64_t> subscribe_over_limit{0};
  std::atomic<uint64_t> ping_timeouts{0};
  std::atomic<uint64_t> messages_dropped{0};        // oldest frames dropped from full queues
  std::atomic<uint64_t> backlogged_connections{0};  // connections with a queue right now
  std::atomic<uint64_t> outbound_queued_bytes{0};   // bytes in those queues right now
  std::atomic<uint64_t> recoveries{0};              // recoveries finished
  std::atomic<uint64_t> recoveries_failed{0};       // of which recovered:false
  std::atomic<uint64_t> messages_recovered{0};      // publications sent from history
  std::atomic<uint64_t> client_publishes{0};        // client publications published
  std::atomic<uint64_t> frames_too_large{0};        // closed 1009
  std::atomic<uint64_t> invalid_utf8{0};            // closed 1007
  std::atomic<uint64_t> protocol_violations{0};     // closed 1002 (bad framing)
  std::atomic<uint64_t> handshake_timeouts{0};      // upgrade not finished in time
  std::atomic<uint64_t> auth_timeouts{0};           // no token in time (closed 4001)
  std::atomic<uint64_t> publish_denied{0};          // refused by the node (rule, limit)
  std::atomic<uint64_t> publish_failed{0};          // refused by the control plane, or no answer
  std::atomic<uint64_t> json_too_deep{0};           // frames nested deeper than kMaxJsonDepth
  std::atomic<uint64_t> tokens_too_long{0};         // tokens over kMaxTokenBytes, not parsed
  std::atomic<uint64_t> pongs_withheld{0};          // pings not answered: client not reading
};

struct ShardContext {
  uint32_t index = 0;
  const std::string* node_id = nullptr;  // owned by the Node, set before start()
  uint32_t ping_interval_ms = 30000;
  uint32_t pong_timeout_ms = 10000;
  uint32_t handshake_timeout_ms = 5000;
  InterestTracker* interest = nullptr;
  std::atomic<uint64_t>* node_connections = nullptr;  // across shards, for the node limit
  // wss:// when set: PEM certificate chain and private key files.
  std::string tls_cert_file;
  std::string tls_key_file;
  IpLimiter* ip_limiter = nullptr;
  const BlockedUsers* blocked_users = nullptr;  // shared by the node's shards
  ChannelSubscribers* subscribers = nullptr;    // shared: max_subscribers per channel
  // Sends a recovery request to the control plane (queued; false when it cannot be).
  std::function<bool(const herald::v1::RecoverRequest&)> recover;
  // Sends a client publication to the control plane; false when the link is down.
  std::function<bool(const herald::v1::ClientPublish&)> publish;
  // Answers plain HTTP GETs (/health, /stats): returns {status, content-type, body}.
  std::function<void(const std::string& path, int* status, std::string* type, std::string* body)>
      http;
};

/**
 * One event-loop thread with its own io_context, WebSocket endpoint (listening on the shared
 * port with SO_REUSEPORT), connections and SubscriptionIndex. Other threads reach it only
 * through the post-style methods below, with immutable payloads.
 */
class Shard {
 public:
  Shard(ShardContext context, NodeSettingsPtr settings);
  ~Shard();

  // Binds host:port (port 0 picks one); returns the bound port. Start-up only: throws.
  uint16_t listen(const std::string& host, uint16_t port);
  void start();

  // Thread-safe: queue work onto the shard's loop.
  void deliver(DeliveryPtr delivery);
  void applySettings(NodeSettingsPtr settings);
  void disconnect(std::shared_ptr<const herald::v1::DisconnectCommand> command);
  // A page of history for a recovery this shard asked for (request ids carry the shard).
  void recovered(std::shared_ptr<const herald::v1::RecoverResponse> page);
  // The control plane's answer to a client publication this shard sent (id carries the shard).
  void published(std::shared_ptr<const herald::v1::ClientPublishResult> result);
  // Fills this shard's part of a presence answer on its loop, then calls `done` there.
  using PresenceDone = std::function<void(herald::v1::PresenceReply)>;
  void presence(std::shared_ptr<const herald::v1::PresenceQuery> query, PresenceDone done);
  // Stops accepting and closes every connection with `code` (e.g. 1012 service restart).
  void beginShutdown(uint16_t code, const std::string& reason);
  // Stops the loop and joins the thread.
  void stop();

  const ShardCounters& counters() const;

  // The engine behind a shard (one per WebSocket flavour); defined in shard.cc.
  class Impl;

  // Most deliveries waiting for the shard's loop before deliver() blocks its caller.
  static constexpr size_t kMaxPendingDeliveries = 65536;
  // How often deliver() had to wait for the shard (/stats delivery_backpressure_waits).
  uint64_t backpressureWaits() const { return backpressure_waits_.load(); }

 private:
  std::unique_ptr<Impl> impl_;
  std::mutex pending_mu_;  // deliveries not yet taken by the shard's loop
  std::condition_variable pending_cv_;
  std::vector<DeliveryPtr> pending_;
  bool stopped_ = false;
  std::atomic<uint64_t> backpressure_waits_{0};
};

}  // namespace herald::node
