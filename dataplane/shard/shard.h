#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/fanout/delivery.h"
#include "dataplane/fanout/join_leave_frames.h"
#include "dataplane/http/http_routes.h"
#include "dataplane/node_settings.h"
#include "dataplane/shard/shard_counters.h"
#include "dataplane/shard/shard_state.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

struct ShardContext {
  uint32_t index = 0;
  uint32_t ping_interval_ms = 30000;
  uint32_t pong_timeout_ms = 10000;
  uint32_t handshake_timeout_ms = 5000;
  // wss:// when set: PEM certificate chain and private key files.
  std::string tls_cert_file;
  std::string tls_key_file;
  NodeServices services;               // node-wide: interest, limits, the uplink
  const HttpRoutes* routes = nullptr;  // plain HTTP on the client port (read-only)
};

/**
 * One event-loop thread (Dragonfly's shard-per-thread) with its own io_context, client
 * listener (on the node's shared port, SO_REUSEPORT), sessions and ShardState. Other threads
 * reach it only through the methods below, which post immutable payloads onto its loop.
 * The loop itself (transport events, sweep and flush timers) is Shard::Impl in shard.cc.
 */
class Shard {
 public:
  Shard(ShardContext context, NodeSettingsPtr settings);
  ~Shard();

  // Binds host:port (port 0 picks one); returns the bound port. Start-up only: throws.
  uint16_t listen(const std::string& host, uint16_t port);
  void start();

  // Thread-safe: queue work onto the shard's loop.
  void enqueue(DeliveryPtr delivery);
  void applySettings(NodeSettingsPtr settings);
  void disconnect(std::shared_ptr<const herald::v1::DisconnectCommand> command);
  // ControlService.Subscribe / Unsubscribe / Refresh (a ControlMessage of kind subscription
  // or refresh) for this shard's matching connections (server_commands.h).
  void serverCommand(std::shared_ptr<const herald::v1::ControlMessage> command);
  // Join / leave frames for this shard's subscribers of their channel.
  void joinLeave(JoinLeaveFramesPtr frames);
  // A page of history for a recovery this shard asked for (request ids carry the shard).
  void recovered(std::shared_ptr<const herald::v1::RecoverResponse> page);
  // The NodeLink started a new session: recoveries ask again for the page they were waiting
  // for, since a request in flight on the old session may have been lost with it.
  void linkSessionStarted();
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

  // The loop behind a shard; defined in shard.cc.
  class Impl;

  // Most deliveries waiting for the shard's loop before enqueue() blocks its caller.
  static constexpr size_t kMaxPendingDeliveries = 65536;
  // How often enqueue() had to wait for the shard (/stats delivery_backpressure_waits).
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
