#include "dataplane/shard/shard.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "common/clock.h"
#include "common/logging.h"
#include "dataplane/fanout/fanout.h"
#include "dataplane/fanout/group_delivery.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_session.h"
#include "dataplane/shard/server_commands.h"
#include "dataplane/transport/client_listener.h"
#include "dataplane/transport/client_transport.h"

namespace herald::node {

namespace {

// How often backlogged connections are topped up from their queues.
constexpr auto kFlushInterval = std::chrono::milliseconds(2);

}  // namespace

/**
 * A shard's loop: the io_context and its thread, the client listener, the ShardState, and
 * the timers (keepalive and deadline sweep, outbox flush). Receives the transport's events
 * (TransportHandler) and the Shard's posted work. Everything here runs on the shard's thread
 * except the constructor, listen(), start() and stop().
 */
class Shard::Impl final : public TransportHandler {
 public:
  Impl(ShardContext context, NodeSettingsPtr settings)
      : ctx_(std::move(context)),
        state_(ctx_.index, ctx_.services, std::move(settings), [this] { armFlush(); }),
        log_(componentLogger("shard")) {
    state_.ping_interval_ms = ctx_.ping_interval_ms;
    state_.post = [this](std::function<void()> fn) { asio::post(io_, std::move(fn)); };
    state_.conflation.arm = [this](int64_t due_ms) { armConflation(due_ms); };
    WebSocketOptions options;
    options.handshake_timeout_ms = ctx_.handshake_timeout_ms;
    options.pong_timeout_ms = ctx_.pong_timeout_ms;
    options.inbound_limit = state_.settings->limits.max_inbound_frame_bytes();
    options.socket_window = state_.outbox.socketWindow();
    options.tls_cert_file = ctx_.tls_cert_file;
    options.tls_key_file = ctx_.tls_key_file;
    listener_ = makeWebSocketListener(io_, *this, options);
  }

  uint16_t listen(const std::string& host, uint16_t port) { return listener_->listen(host, port); }

  void start() {
    work_ = std::make_unique<asio::io_context::work>(io_);
    asio::post(io_, [this] { armSweep(); });
    thread_ = std::thread([this] { run(); });
  }

  void post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

  void stop() {
    asio::post(io_, [this] {
      sweep_timer_.cancel();
      flush_timer_.cancel();
      conflation_timer_.cancel();
    });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  const ShardCounters& counters() const { return state_.counters; }

  // ---- on the shard thread from here on: work posted by the Shard

  void deliverBatch(const std::vector<DeliveryPtr>& batch) { fanOut(state_, batch); }

  ShardState& state() { return state_; }

  void applySettings(NodeSettingsPtr settings) {
    state_.settings = std::move(settings);
    listener_->setInboundLimit(state_.settings->limits.max_inbound_frame_bytes());
    listener_->setSocketWindow(state_.outbox.socketWindow());
    const std::vector<ClientSession*> sessions = state_.sessions;
    for (ClientSession* session : sessions) {
      session->onSettingsChanged();
    }
  }

  void disconnect(const herald::v1::DisconnectCommand& cmd) {
    for (ClientSession* session : matchingSessions(state_, cmd.user(), cmd.client())) {
      session->close(static_cast<uint16_t>(cmd.code()), cmd.reason());
    }
  }

  void recovered(const herald::v1::RecoverResponse& page) {
    auto it = state_.recoveries.find(page.request_id());
    if (it != state_.recoveries.end()) {
      it->second->onRecoveryPage(page);
    }  // else the connection closed, or the recovery timed out meanwhile
  }

  void linkSessionStarted() {
    std::vector<ClientSession*> sessions;
    for (const auto& [id, session] : state_.recoveries) {
      if (std::find(sessions.begin(), sessions.end(), session) == sessions.end()) {
        sessions.push_back(session);
      }
    }
    for (ClientSession* session : sessions) {
      session->reissueRecoveries();
    }
  }

  void published(const herald::v1::ClientPublishResult& result) {
    if (auto entry = state_.publishes.take(result.request_id())) {
      entry->con->onPublishResult(result, entry->frame_id);
    }  // else the connection closed, or the answer came after the timeout
  }

  void presence(const herald::v1::PresenceQuery& query, const Shard::PresenceDone& done) {
    herald::v1::PresenceReply reply;
    if (!query.channel().empty()) {
      if (const auto* subs = state_.channels.find(query.channel())) {
        reply.set_connections(subs->size());
        subs->forEachUntil([&](ClientSession* session) {
          if (static_cast<uint32_t>(reply.entries_size()) >= query.max_entries()) {
            reply.set_truncated(true);
            return false;
          }
          auto* entry = reply.add_entries();
          entry->set_user(session->user());
          entry->set_client(session->clientId());
          entry->set_node_id(*state_.node.node_id);
          return true;
        });
      }
    }
    for (const auto& channel : query.count_channels()) {
      if (const auto* subs = state_.channels.find(channel)) {
        auto* count = reply.add_counts();
        count->set_channel(channel);
        count->set_subscribers(subs->size());
      }
    }
    done(std::move(reply));
  }

  void beginShutdown(uint16_t code, const std::string& reason) {
    state_.shutting_down = true;
    listener_->stopAccepting();
    const std::vector<ClientSession*> sessions = state_.sessions;
    for (ClientSession* session : sessions) {
      session->close(code, reason);  // queued frames go out first
    }
  }

  // ---- TransportHandler: what the listener reports

  std::optional<Refusal> admit(const UpgradeRequest& request) override {
    const NodeSettings& settings = *state_.settings;
    const auto& limits = settings.limits;
    if (request.path != (request.sse ? "/sse" : "/ws")) {
      state_.counters.refused_other.fetch_add(1, std::memory_order_relaxed);
      return refuse(404, "not_found", "WebSocket endpoint is /ws");
    }
    if (settings.version == 0) {
      // No config from the control plane yet: no keys, rules or limits to apply.
      state_.counters.refused_other.fetch_add(1, std::memory_order_relaxed);
      return refuse(503, "unavailable", "node has no config from the control plane yet");
    }
    if (!originAllowed(limits, request.origin)) {
      state_.counters.refused_origin.fetch_add(1, std::memory_order_relaxed);
      return refuse(403, "permission_denied", "origin not allowed");
    }
    if (!state_.node.ip_limiter->admitConnection(request.ip, steadyMillis(),
                                                 limits.new_connections_per_ip_per_second(),
                                                 limits.failed_auth_per_ip_per_minute())) {
      state_.counters.refused_ip_rate.fetch_add(1, std::memory_order_relaxed);
      return refuse(429, "rate_limited",
                    "too many new connections or failed authentications from this address");
    }
    if (state_.shutting_down ||
        !nodeHasRoom(limits, state_.node.node_connections->load(std::memory_order_relaxed))) {
      state_.counters.refused_other.fetch_add(1, std::memory_order_relaxed);
      return refuse(503, "limit_exceeded", "node is full or draining");
    }
    return std::nullopt;
  }

  bool originListed(const std::string& origin) override {
    const auto& limits = state_.settings->limits;
    return limits.allowed_origins_size() > 0 && originAllowed(limits, origin);
  }

  void opened(ClientSession& session, ClientTransport& transport, const std::string& ip) override {
    session.shard_slot = static_cast<uint32_t>(state_.sessions.size());
    state_.sessions.push_back(&session);
    state_.counters.connections.fetch_add(1, std::memory_order_relaxed);
    state_.counters.connections_total.fetch_add(1, std::memory_order_relaxed);
    state_.node.node_connections->fetch_add(1, std::memory_order_relaxed);
    session.open(transport, state_, ip);
  }

  void received(ClientSession& session, const std::string& payload, bool text) override {
    session.onFrame(payload, text);
  }

  void closed(ClientSession& session, uint16_t code, const std::string& reason) override {
    session.closed(code, reason);
    // Swap-and-pop out of the session list.
    ClientSession* last = state_.sessions.back();
    state_.sessions[session.shard_slot] = last;
    last->shard_slot = session.shard_slot;
    state_.sessions.pop_back();
    state_.counters.connections.fetch_sub(1, std::memory_order_relaxed);
    state_.node.node_connections->fetch_sub(1, std::memory_order_relaxed);
  }

  void pingTimedOut(ClientSession& session) override {
    // The peer is gone or stuck: close it so its state is freed (docs/protocol.md, 4015).
    state_.counters.ping_timeouts.fetch_add(1, std::memory_order_relaxed);
    session.close(kClosePingTimeout, "ping timeout");
  }

  HttpResponse http(const std::string& method, const std::string& path) override {
    if (ctx_.routes == nullptr) {
      return HttpResponse{404, "application/json", "{\"error\":\"not_found\"}"};
    }
    return ctx_.routes->handle(method, path);
  }

  void count(TransportEvent event) override {
    auto& c = state_.counters;
    switch (event) {
      case TransportEvent::kPongWithheld:
        c.pongs_withheld.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kHandshakeTimeout:
        c.handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kFrameTooLarge:
        c.frames_too_large.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kInvalidUtf8:
        c.invalid_utf8.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kProtocolViolation:
        c.protocol_violations.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kDeflateOpened:
        c.compressed_connections.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kDeflateClosed:
        c.compressed_connections.fetch_sub(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kSseOpened:
        c.sse_streams.fetch_add(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kSseClosed:
        c.sse_streams.fetch_sub(1, std::memory_order_relaxed);
        break;
      case TransportEvent::kSsePost:
        c.sse_posts.fetch_add(1, std::memory_order_relaxed);
        break;
    }
  }

 private:
  void run() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        // A handler must never throw; log and keep the shard alive rather than lose it.
        log_->error("shard {}: unexpected exception in event loop: {}", ctx_.index, e.what());
      }
    }
  }

  // Answers a refused upgrade with an HTTP status and a JSON body; counts it.
  Refusal refuse(int status, const char* code, std::string message) {
    state_.counters.connections_refused.fetch_add(1, std::memory_order_relaxed);
    return Refusal{status, code, std::move(message)};
  }

  void armFlush() {
    if (flush_armed_) {
      return;
    }
    flush_armed_ = true;
    flush_timer_.expires_after(kFlushInterval);
    flush_timer_.async_wait([this](const asio::error_code& ec) {
      flush_armed_ = false;
      if (!ec && state_.outbox.flush()) {
        armFlush();
      }
    });
  }

  // Once a second: keepalive pings, expired tokens and authentication deadlines, overdue
  // recoveries and client publications.
  void armSweep() {
    sweep_timer_.expires_after(std::chrono::seconds(1));
    sweep_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) {
        sweep();
        armSweep();
      }
    });
  }

  // One timer for all of the shard's conflated groups, for the earliest due (re-armed by
  // ConflationSchedule when an earlier one comes, and after each flush).
  void armConflation(int64_t due_ms) {
    conflation_timer_.expires_after(
        std::chrono::milliseconds(std::max<int64_t>(due_ms - steadyMillis(), 0)));
    conflation_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) {
        flushConflated(state_, steadyMillis());
      }
    });
  }

  void sweep() {
    if (!state_.deliveries.empty() && state_.node.deliveries != nullptr) {
      state_.node.deliveries->hand(state_.deliveries);
      state_.deliveries.clear();
    }
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    const int64_t now_ms = steadyMillis();
    std::vector<std::pair<ClientSession*, uint16_t>> closing;
    for (ClientSession* session : state_.sessions) {
      // Pings keep connections honest: no pong in time closes them (4015).
      if (now_ms - session->last_ping_ms >= ctx_.ping_interval_ms &&
          session->transport().isOpen()) {
        session->last_ping_ms = now_ms;
        session->transport().sendPing();
      }
      session->refreshIfDue(now_s);
      if (uint16_t code = session->deadlinePassed(now_s, now_ms, ctx_.handshake_timeout_ms)) {
        closing.emplace_back(session, code);
      }
    }
    std::vector<std::pair<ClientSession*, uint64_t>> overdue;
    for (const auto& [id, session] : state_.recoveries) {
      if (session->recoveryOverdue(id, now_ms)) {
        overdue.emplace_back(session, id);
      }
    }
    for (const auto& [session, id] : overdue) {
      session->failRecovery(id, "timeout");
    }
    for (const auto& entry : state_.publishes.takeOverdue(now_ms)) {
      entry.con->onPublishTimeout(entry.frame_id);
    }
    for (const auto& [session, code] : closing) {
      session->closeForDeadline(code);
    }
  }

  ShardContext ctx_;
  asio::io_context io_;
  ShardState state_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<ClientListener> listener_;
  std::unique_ptr<asio::io_context::work> work_;
  std::thread thread_;
  asio::steady_timer sweep_timer_{io_};
  asio::steady_timer flush_timer_{io_};
  asio::steady_timer conflation_timer_{io_};  // the earliest conflated group due
  bool flush_armed_ = false;
};

Shard::Shard(ShardContext context, NodeSettingsPtr settings)
    : impl_(std::make_unique<Impl>(std::move(context), std::move(settings))) {}

Shard::~Shard() { stop(); }

uint16_t Shard::listen(const std::string& host, uint16_t port) { return impl_->listen(host, port); }

void Shard::start() { impl_->start(); }

void Shard::enqueue(DeliveryPtr delivery) {
  bool first = false;
  {
    std::unique_lock<std::mutex> lock(pending_mu_);
    // Backpressure instead of an unbounded queue: a shard that cannot keep up slows the
    // NodeLink reader, herald-control's queue for this node fills and it cuts the node off,
    // and the node resyncs what it missed from history when it reconnects.
    if (pending_.size() >= kMaxPendingDeliveries) {
      backpressure_waits_.fetch_add(1, std::memory_order_relaxed);
      pending_cv_.wait(lock, [&] { return pending_.size() < kMaxPendingDeliveries || stopped_; });
    }
    if (stopped_) {
      return;
    }
    first = pending_.empty();
    pending_.push_back(std::move(delivery));
  }
  if (!first) {
    return;  // a drain is already posted: it will take this one too
  }
  // One post per burst: the shard takes everything that arrived meanwhile in one go.
  impl_->post([this] {
    std::vector<DeliveryPtr> batch;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      batch.swap(pending_);
    }
    pending_cv_.notify_all();
    impl_->deliverBatch(batch);
  });
}

void Shard::applySettings(NodeSettingsPtr settings) {
  Impl* impl = impl_.get();
  impl_->post([impl, settings = std::move(settings)]() mutable {
    impl->applySettings(std::move(settings));
  });
}

void Shard::disconnect(std::shared_ptr<const herald::v1::DisconnectCommand> command) {
  Impl* impl = impl_.get();
  impl_->post([impl, command = std::move(command)] { impl->disconnect(*command); });
}

void Shard::serverCommand(std::shared_ptr<const herald::v1::ControlMessage> command) {
  Impl* impl = impl_.get();
  impl_->post([impl, command = std::move(command)] {
    if (command->has_subscription()) {
      applySubscriptionCommand(impl->state(), command->subscription());
    } else if (command->has_refresh()) {
      applyRefreshCommand(impl->state(), command->refresh());
    }
  });
}

void Shard::joinLeave(JoinLeaveFramesPtr frames) {
  Impl* impl = impl_.get();
  impl_->post([impl, frames = std::move(frames)] { sendJoinLeave(impl->state(), *frames); });
}

void Shard::recovered(std::shared_ptr<const herald::v1::RecoverResponse> page) {
  Impl* impl = impl_.get();
  impl_->post([impl, page = std::move(page)] { impl->recovered(*page); });
}

void Shard::linkSessionStarted() {
  Impl* impl = impl_.get();
  impl_->post([impl] { impl->linkSessionStarted(); });
}

void Shard::published(std::shared_ptr<const herald::v1::ClientPublishResult> result) {
  Impl* impl = impl_.get();
  impl_->post([impl, result = std::move(result)] { impl->published(*result); });
}

void Shard::presence(std::shared_ptr<const herald::v1::PresenceQuery> query, PresenceDone done) {
  Impl* impl = impl_.get();
  impl_->post(
      [impl, query = std::move(query), done = std::move(done)] { impl->presence(*query, done); });
}

void Shard::beginShutdown(uint16_t code, const std::string& reason) {
  Impl* impl = impl_.get();
  impl_->post([impl, code, reason] { impl->beginShutdown(code, reason); });
}

void Shard::stop() {
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    stopped_ = true;
  }
  pending_cv_.notify_all();
  impl_->stop();
}

const ShardCounters& Shard::counters() const { return impl_->counters(); }

}  // namespace herald::node
