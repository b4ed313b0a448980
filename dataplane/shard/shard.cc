#include "dataplane/shard/shard.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <websocketpp/processors/hybi13.hpp>

#include "common/channel_name.h"
#include "common/logging.h"
#include "dataplane/session/client_limits.h"
#include "dataplane/session/client_protocol.h"
#include "dataplane/session/frame_builder.h"
#include "dataplane/session/pending_publishes.h"
#include "dataplane/session/permissions.h"
#include "dataplane/fanout/subscription_index.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node {

struct PreparedFrame {
  WsConfig::message_type::ptr message;
};

PreparedFramePtr prepareTextFrame(const std::string& payload) {
  // One processor per calling thread (the NodeLink reader): framing happens once here, and
  // every connection then queues the same prepared message without copying it.
  thread_local auto manager = std::make_shared<WsConfig::con_msg_manager_type>();
  thread_local WsConfig::rng_type rng;
  thread_local websocketpp::processor::hybi13<WsConfig> processor(false, true, manager, rng);
  auto in = manager->get_message(websocketpp::frame::opcode::text, payload.size());
  in->set_payload(payload);
  auto out = manager->get_message();
  processor.prepare_data_frame(in, out);
  auto frame = std::make_shared<PreparedFrame>();
  frame->message = out;
  return frame;
}

// Several prepared frames back to back as one prepared message: one write (and one queue
// entry) per connection for a run of publications on the same channel.
PreparedFramePtr concatenateFrames(const std::vector<const PreparedFrame*>& frames) {
  thread_local auto manager = std::make_shared<WsConfig::con_msg_manager_type>();
  size_t total = 0;
  for (const auto* f : frames) {
    total += f->message->get_header().size() + f->message->get_payload().size();
  }
  std::string bytes;
  bytes.reserve(total);
  for (const auto* f : frames) {
    bytes.append(f->message->get_header());
    bytes.append(f->message->get_payload());
  }
  auto out = manager->get_message(websocketpp::frame::opcode::text, 0);
  out->set_payload(std::move(bytes));
  out->set_prepared(true);
  auto frame = std::make_shared<PreparedFrame>();
  frame->message = out;
  return frame;
}

// Close codes of docs/protocol.md.
constexpr uint16_t kCloseUnauthorized = 4001;
constexpr uint16_t kCloseTokenExpired = 4002;
constexpr uint16_t kCloseTooManyRequests = 4029;
constexpr uint16_t kCloseUserLimit = 4030;
constexpr uint16_t kClosePingTimeout = 4015;
constexpr uint16_t kCloseSlowConsumer = 4008;
// How long a closing connection may take to read what the socket holds and the close frame
// (websocketpp cuts it after 5 s by default: a briefly stalled client saw 1006, not 4008).
constexpr long kCloseGraceMs = 30000;
// Rate-limited frames in a row before the connection is closed with 4029.
constexpr uint16_t kMaxRateViolations = 50;
// Most bytes handed to websocketpp (and the kernel behind it) per connection; beyond it frames
// wait in the connection's own bounded queue, where the slow-consumer policy applies.
constexpr size_t kSocketWindowBytes = 256 * 1024;
// How often backlogged connections are topped up from their queues.
constexpr auto kFlushInterval = std::chrono::milliseconds(2);
// A recovery that has not finished by then reports recovered:false ("timeout").
constexpr int64_t kRecoveryTimeoutMs = 10000;
// How long a client publication may wait for the control plane's answer.
constexpr int64_t kPublishTimeoutMs = 5000;
// Publications of one connection waiting for an answer at once.
constexpr uint16_t kMaxPublishesInFlight = 64;

// What Shard needs of its engine; one engine per WebSocket flavour (ws://, wss://).
class Shard::Impl {
 public:
  virtual ~Impl() = default;
  virtual uint16_t listen(const std::string& host, uint16_t port) = 0;
  virtual void start() = 0;
  virtual void post(std::function<void()> fn) = 0;
  virtual void stop() = 0;
  virtual void deliver(const Delivery& d) = 0;
  // Deliveries in arrival order; runs on one channel go out as one write per connection.
  virtual void deliverBatch(const std::vector<DeliveryPtr>& batch) = 0;
  virtual void applySettings(NodeSettingsPtr settings) = 0;
  virtual void disconnect(const herald::v1::DisconnectCommand& cmd) = 0;
  virtual void recovered(const herald::v1::RecoverResponse& page) = 0;
  virtual void published(const herald::v1::ClientPublishResult& result) = 0;
  virtual void presence(const herald::v1::PresenceQuery& query,
                        const Shard::PresenceDone& done) = 0;
  virtual void beginShutdown(uint16_t code, const std::string& reason) = 0;

  ShardCounters counters_;
};

// Both flavours share one message type, so a frame prepared once serves either.
static_assert(std::is_same_v<WsConfig::message_type, WssConfig::message_type>);

template <typename Config>
class ShardEngine final : public Shard::Impl {
  using WsServer = websocketpp::server<Config>;
  using WsConnection = typename WsServer::connection_type;

 public:
  ShardEngine(ShardContext context, NodeSettingsPtr settings)
      : ctx_(std::move(context)), settings_(std::move(settings)), log_(componentLogger("shard")) {
    if constexpr (std::is_same_v<Config, WssConfig>) {
      // One TLS context per shard, loaded at start-up (throws on unreadable files).
      tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
      tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
      tls_->use_certificate_chain_file(ctx_.tls_cert_file);
      tls_->use_private_key_file(ctx_.tls_key_file, asio::ssl::context::pem);
      server_.set_tls_init_handler([tls = tls_](websocketpp::connection_hdl) { return tls; });
    }
    server_.init_asio(&io_);
    server_.set_reuse_addr(true);
    server_.set_listen_backlog(4096);
    server_.set_open_handshake_timeout(ctx_.handshake_timeout_ms);
    server_.set_pong_timeout(ctx_.pong_timeout_ms);
    server_.set_pong_timeout_handler([this](websocketpp::connection_hdl h, std::string) {
      // The peer is gone or stuck: close it so its state is freed (docs/protocol.md, 4015).
      auto con = server_.get_con_from_hdl(h);
      if (con->get_state() != websocketpp::session::state::open) {
        return;  // already closing for another reason
      }
      counters_.ping_timeouts.fetch_add(1, std::memory_order_relaxed);
      closeWith(con.get(), kClosePingTimeout, "ping timeout");
    });
    server_.set_max_message_size(settings_->limits.max_inbound_frame_bytes());
    server_.set_ping_handler([this](websocketpp::connection_hdl h, std::string) {
      // websocketpp answers every ping with a pong; a peer that pings without reading would
      // pile pongs up without bound. Answer only while the socket drains.
      auto con = server_.get_con_from_hdl(h);
      if (con->get_buffered_amount() >= socketWindow()) {
        counters_.pongs_withheld.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      return true;
    });
    server_.set_tcp_pre_bind_handler([](const auto& acceptor) {
      // Every shard binds the same port; the kernel spreads new connections over them.
      int one = 1;
      if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) !=
          0) {
        return websocketpp::lib::error_code(errno, std::generic_category());
      }
      return websocketpp::lib::error_code();
    });
    using websocketpp::connection_hdl;
    server_.set_validate_handler([this](connection_hdl h) { return onValidate(h); });
    server_.set_open_handler([this](connection_hdl h) { onOpen(h); });
    server_.set_close_handler([this](connection_hdl h) { onClosed(h); });
    server_.set_fail_handler([this](connection_hdl h) { onClosed(h); });
    server_.set_http_handler([this](connection_hdl h) { onHttp(h); });
    server_.set_message_handler(
        [this](connection_hdl h, typename WsServer::message_ptr m) { onMessage(h, m); });
  }

  uint16_t listen(const std::string& host, uint16_t port) {
    websocketpp::lib::error_code ec;
    asio::error_code aec;
    const auto address = asio::ip::make_address(host, aec);
    if (aec) {
      throw std::runtime_error("listen: '" + host + "' is not an IP address");
    }
    server_.listen(asio::ip::tcp::endpoint(address, port), ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
    }
    const auto local = server_.get_local_endpoint(aec);
    server_.start_accept(ec);
    if (ec) {
      throw std::runtime_error("cannot accept on " + host + ": " + ec.message());
    }
    return local.port();
  }

  void start() {
    work_ = std::make_unique<asio::io_service::work>(io_);
    asio::post(io_, [this] { armSweep(); });
    thread_ = std::thread([this] { run(); });
  }

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

  void post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

  void stop() {
    asio::post(io_, [this] {
      sweep_timer_.cancel();
      flush_timer_.cancel();
    });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  // ---- on the shard thread from here on

  void deliver(const Delivery& d) {
    switch (d.target) {
      case herald::v1::DELIVERY_TARGET_CHANNEL:
        if (const auto* subs = index_.find(d.channel)) {
          const bool drop = dropsOldest(&d.channel);
          for (WsConnection* con : *subs) {
            if (con->recovering.empty() || !holdForRecovery(con, &d.channel, d)) {
              sendFrame(con, d.frame, drop);
            }
          }
        }
        break;
      case herald::v1::DELIVERY_TARGET_USER: {
        auto it = users_.find(d.user);
        if (it != users_.end()) {
          const bool drop = dropsOldest(nullptr);
          for (WsConnection* con : it->second) {
            if (con->recovering.empty() || !holdForRecovery(con, nullptr, d)) {
              sendFrame(con, d.frame, drop);
            }
          }
        }
        break;
      }
      case herald::v1::DELIVERY_TARGET_ALL: {
        const bool drop = dropsOldest(nullptr);
        for (WsConnection* con : all_) {
          if (con->greeted) {  // not to connections still waiting for a token
            sendFrame(con, d.frame, drop);
          }
        }
        break;
      }
      default:
        break;
    }
  }

  void deliverBatch(const std::vector<DeliveryPtr>& batch) {
    size_t i = 0;
    while (i < batch.size()) {
      size_t j = i + 1;
      if (batch[i]->target == herald::v1::DELIVERY_TARGET_CHANNEL) {
        while (j < batch.size() && batch[j]->target == herald::v1::DELIVERY_TARGET_CHANNEL &&
               batch[j]->channel == batch[i]->channel) {
          ++j;
        }
      }
      if (j - i == 1) {
        deliver(*batch[i]);
      } else {
        deliverRun(batch, i, j);
      }
      i = j;
    }
  }

  // Publications i..j-1 of one channel: their frames joined once, written once per connection.
  void deliverRun(const std::vector<DeliveryPtr>& batch, size_t i, size_t j) {
    const std::string& channel = batch[i]->channel;
    const auto* subs = index_.find(channel);
    if (subs == nullptr) {
      return;
    }
    std::vector<const PreparedFrame*> frames;
    frames.reserve(j - i);
    for (size_t k = i; k < j; ++k) {
      frames.push_back(batch[k]->frame.get());
    }
    const FramePtr joined = concatenateFrames(frames);
    const bool drop = dropsOldest(&channel);
    const auto count = static_cast<uint32_t>(j - i);
    for (WsConnection* con : *subs) {
      if (con->recovering.empty()) {
        sendFrame(con, joined, drop, count);
        continue;
      }
      for (size_t k = i; k < j; ++k) {  // a recovering connection holds them one by one
        if (!holdForRecovery(con, &channel, *batch[k])) {
          sendFrame(con, batch[k]->frame, drop);
        }
      }
    }
  }

  void recovered(const herald::v1::RecoverResponse& page) {
    auto it = recoveries_.find(page.request_id());
    if (it == recoveries_.end()) {
      return;  // the connection closed, or the recovery timed out meanwhile
    }
    WsConnection* con = it->second;
    Recovery* recovery = findRecovery(con, page.request_id());
    if (recovery == nullptr) {
      return;
    }
    auto step = recovery->onPage(page);
    if (applyRecoveryStep(con, recovery, step)) {
      return;
    }
    recovery->extendDeadline(steadyMillis() + kRecoveryTimeoutMs);
    if (con->backlog) {
      // Pace the history to the client: the next page once this one has left the queue.
      recovery->setWaitingForDrain(true);
      return;
    }
    requestNextPage(con, recovery);
  }

  void requestNextPage(WsConnection* con, StreamRecovery<FramePtr>* recovery) {
    recovery->setWaitingForDrain(false);
    if (!ctx_.recover || !ctx_.recover(recovery->nextRequest())) {
      auto failed = recovery->fail("unavailable");
      applyRecoveryStep(con, recovery, failed);
    }
  }

  void presence(const herald::v1::PresenceQuery& query, const Shard::PresenceDone& done) {
    herald::v1::PresenceReply reply;
    if (!query.channel().empty()) {
      if (const auto* subs = index_.find(query.channel())) {
        reply.set_connections(subs->size());
        for (WsConnection* con : *subs) {
          if (static_cast<uint32_t>(reply.entries_size()) >= query.max_entries()) {
            reply.set_truncated(true);
            break;
          }
          auto* entry = reply.add_entries();
          entry->set_user(con->user);
          entry->set_client(clientId(*con));
          entry->set_node_id(*ctx_.node_id);
        }
      }
    }
    for (const auto& channel : query.count_channels()) {
      if (const auto* subs = index_.find(channel)) {
        auto* count = reply.add_counts();
        count->set_channel(channel);
        count->set_subscribers(subs->size());
      }
    }
    done(std::move(reply));
  }

  void applySettings(NodeSettingsPtr settings) {
    settings_ = std::move(settings);
    const auto max = settings_->limits.max_inbound_frame_bytes();
    server_.set_max_message_size(max);
    std::vector<WsConnection*> waiting;
    for (WsConnection* con : all_) {
      con->set_max_message_size(max);
      if (!con->greeted && settings_->allow_anonymous) {
        waiting.push_back(con);
      }
    }
    // Anonymous access was just turned on: connections waiting for a token may proceed.
    for (WsConnection* con : waiting) {
      greet(con, std::nullopt);
    }
  }

  void disconnect(const herald::v1::DisconnectCommand& cmd) {
    std::vector<WsConnection*> targets;
    for (WsConnection* con : all_) {
      const bool user_matches = cmd.user().empty() || con->user == cmd.user();
      const bool client_matches = cmd.client().empty() || clientId(*con) == cmd.client();
      if (user_matches && client_matches) {
        targets.push_back(con);
      }
    }
    for (WsConnection* con : targets) {
      closeWith(con, static_cast<uint16_t>(cmd.code()), cmd.reason());
    }
  }

  void beginShutdown(uint16_t code, const std::string& reason) {
    shutting_down_ = true;
    websocketpp::lib::error_code ec;
    server_.stop_listening(ec);
    const std::vector<WsConnection*> targets = all_;
    for (WsConnection* con : targets) {
      closeWith(con, code, reason);  // queued frames go out first
    }
  }

 private:
  std::string clientId(const ConnState& state) const {
    return *ctx_.node_id + "-" + std::to_string(ctx_.index) + "-" +
           std::to_string(state.client_seq);
  }

  size_t socketWindow() const {
    return std::min<size_t>(kSocketWindowBytes, settings_->limits.outbound_queue_bytes());
  }

  // The slow-consumer policy for a channel's namespace (nullptr: personal and broadcast
  // frames), falling back to the global one: true = drop oldest, false = disconnect.
  bool dropsOldest(const std::string* channel) const {
    auto policy = herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED;
    if (channel != nullptr) {
      policy = settings_->namespaceFor(namespaceOf(*channel)).slow_consumer_policy();
    }
    if (policy == herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED) {
      policy = settings_->limits.slow_consumer_policy();
    }
    return policy != herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT;
  }

  // The fast path: a reading client's frame goes straight to its socket. Only a client that
  // has fallen a window behind gets a queue, so a slow client never delays anyone else.
  // `count`: publications in the frame (a joined run carries several).
  void sendFrame(WsConnection* con, const FramePtr& frame, bool drop_oldest, uint32_t count = 1) {
    if (con->get_state() != websocketpp::session::state::open) {
      return;  // closing: neither a delivery nor another slow-consumer close
    }
    if (!con->backlog && con->get_buffered_amount() < socketWindow()) {
      if (!con->send(frame->message)) {
        counters_.messages_out.fetch_add(count, std::memory_order_relaxed);
      }
      return;
    }
    enqueue(con, frame, drop_oldest, false, count);
  }

  void enqueue(WsConnection* con, const FramePtr& frame, bool drop_oldest, bool kept = false,
               uint32_t count = 1) {
    if (!con->backlog) {
      con->backlog = std::make_unique<OutboundQueue<FramePtr>>();
      backlog_.push_back(con);
      counters_.backlogged_connections.fetch_add(1, std::memory_order_relaxed);
      armFlush();
    }
    const auto& limits = settings_->limits;
    const size_t bytes = frame->message->get_header().size() + frame->message->get_payload().size();
    const uint64_t dropped_before = con->backlog->dropped();
    const size_t bytes_before = con->backlog->bytes();
    const auto result = con->backlog->push(frame, bytes, limits.outbound_queue_messages(),
                                           limits.outbound_queue_bytes(), drop_oldest, kept, count);
    countQueued(bytes_before, con->backlog->bytes());
    if (result == OutboundQueue<FramePtr>::PushResult::kOverflow) {
      counters_.slow_consumers_closed.fetch_add(1, std::memory_order_relaxed);
      clearBacklog(con);  // cut off: what it did not read is not sent
      closeWith(con, kCloseSlowConsumer, "slow consumer: outbound queue full");
    } else if (result == OutboundQueue<FramePtr>::PushResult::kDropped) {
      counters_.messages_dropped.fetch_add(con->backlog->dropped() - dropped_before,
                                           std::memory_order_relaxed);
    }
  }

  void armFlush() {
    if (flush_armed_) {
      return;
    }
    flush_armed_ = true;
    flush_timer_.expires_after(kFlushInterval);
    flush_timer_.async_wait([this](const asio::error_code& ec) {
      flush_armed_ = false;
      if (ec) {
        return;
      }
      flushBacklogs();
      if (!backlog_.empty()) {
        armFlush();
      }
    });
  }

  // Moves queued frames into sockets that have room again (all of them when `everything`).
  void flushBacklog(WsConnection* con, bool everything) {
    auto& queue = *con->backlog;
    const size_t window = socketWindow();
    const size_t bytes_before = queue.bytes();
    while (!queue.empty() && (everything || con->get_buffered_amount() < window)) {
      auto entry = queue.pop();
      if (!con->send(entry.frame->message) && !entry.kept) {
        counters_.messages_out.fetch_add(entry.count, std::memory_order_relaxed);
      }
    }
    countQueued(bytes_before, queue.bytes());
  }

  void clearBacklog(WsConnection* con) {
    countQueued(con->backlog->bytes(), 0);
    con->backlog->clear();
  }

  // Keeps the /stats gauge of queued bytes in step with the queues.
  void countQueued(size_t before, size_t after) {
    if (after >= before) {
      counters_.outbound_queued_bytes.fetch_add(after - before, std::memory_order_relaxed);
    } else {
      counters_.outbound_queued_bytes.fetch_sub(before - after, std::memory_order_relaxed);
    }
  }

  void flushBacklogs() {
    for (size_t i = 0; i < backlog_.size();) {
      WsConnection* con = backlog_[i];
      if (con->get_state() == websocketpp::session::state::open) {
        flushBacklog(con, false);
      } else {
        clearBacklog(con);
      }
      if (con->backlog->empty()) {
        dropBacklog(con);  // swaps the last entry into i
        resumeRecoveries(con);
      } else {
        ++i;
      }
    }
  }

  void resumeRecoveries(WsConnection* con) {
    std::vector<StreamRecovery<FramePtr>*> waiting;
    for (auto& r : con->recovering) {
      if (r->waitingForDrain()) {
        waiting.push_back(r.get());
      }
    }
    for (auto* r : waiting) {
      if (con->get_state() == websocketpp::session::state::open) {
        requestNextPage(con, r);
      }
    }
  }

  void dropBacklog(WsConnection* con) {
    auto it = std::find(backlog_.begin(), backlog_.end(), con);
    if (it != backlog_.end()) {
      *it = backlog_.back();
      backlog_.pop_back();
      counters_.backlogged_connections.fetch_sub(1, std::memory_order_relaxed);
    }
    clearBacklog(con);
    con->backlog.reset();
  }

  // Server frames (replies, errors, recovery ends) keep their place behind queued frames.
  void sendText(WsConnection* con, const std::string& text) {
    // A client that sends without reading fills the same bounded queue as a slow reader.
    if (con->backlog || con->get_buffered_amount() >= socketWindow()) {
      enqueue(con, prepareTextFrame(text), true, /*kept=*/true);
      return;
    }
    con->send(text, websocketpp::frame::opcode::text);
  }

  using Recovery = StreamRecovery<FramePtr>;

  // Starts recovering a channel (or, with an empty channel, the user's personal stream) for
  // a connection that is already subscribed to it.
  void startRecovery(WsConnection* con, std::string channel, StreamPosition since) {
    const uint64_t id = (static_cast<uint64_t>(ctx_.index) << 48) | next_recovery_++;
    std::string user = channel.empty() ? con->user : std::string();
    auto owned = std::make_unique<Recovery>(id, std::move(channel), std::move(user),
                                            std::move(since), steadyMillis() + kRecoveryTimeoutMs,
                                            settings_->limits.outbound_queue_messages());
    Recovery* recovery = owned.get();
    const auto& limits = settings_->limits;
    recovery->setPageSize(std::max<uint32_t>(limits.outbound_queue_bytes() / 2, 1),
                          std::max<uint32_t>(limits.outbound_queue_messages() / 2, 1));
    con->recovering.push_back(std::move(owned));
    recoveries_[id] = con;
    if (!ctx_.recover || !ctx_.recover(recovery->nextRequest())) {
      auto failed = recovery->fail("unavailable");
      applyRecoveryStep(con, recovery, failed);
    }
  }

  Recovery* findRecovery(WsConnection* con, uint64_t id) {
    for (auto& r : con->recovering) {
      if (r->requestId() == id) {
        return r.get();
      }
    }
    return nullptr;
  }

  // A live frame for a stream this connection is recovering: held until the history is out.
  bool holdForRecovery(WsConnection* con, const std::string* channel, const Delivery& d) {
    for (auto& r : con->recovering) {
      const bool match = channel == nullptr ? r->isUserStream() : r->channel() == *channel;
      if (match) {
        if (!r->hold(d.offset, d.frame)) {
          counters_.messages_dropped.fetch_add(1, std::memory_order_relaxed);
        }
        return true;
      }
    }
    return false;
  }

  // Sends what a recovery step produced; true when the recovery is over (and destroyed).
  bool applyRecoveryStep(WsConnection* con, Recovery* recovery, Recovery::Step& step) {
    const std::string& channel = recovery->channel();
    const bool drop = dropsOldest(recovery->isUserStream() ? nullptr : &channel);
    for (const herald::v1::Publication* pub : step.send) {
      herald::v1::Deliver deliver;
      if (recovery->isUserStream()) {
        deliver.set_target(herald::v1::DELIVERY_TARGET_USER);
        deliver.set_user(con->user);
      } else {
        deliver.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
      }
      *deliver.mutable_publication() = *pub;
      sendFrame(con, prepareTextFrame(buildMessageFrame(deliver)), drop);
      counters_.messages_recovered.fetch_add(1, std::memory_order_relaxed);
    }
    if (!step.finished) {
      return false;
    }
    if (con->get_state() == websocketpp::session::state::open) {
      sendText(con, buildRecoveryFrame(step.outcome));
      for (const auto& frame : step.release) {
        sendFrame(con, frame, drop);
      }
    }
    counters_.recoveries.fetch_add(1, std::memory_order_relaxed);
    if (!step.outcome.recovered) {
      counters_.recoveries_failed.fetch_add(1, std::memory_order_relaxed);
    }
    recoveries_.erase(recovery->requestId());
    auto& list = con->recovering;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const auto& r) { return r.get() == recovery; }),
               list.end());
    return true;
  }

  // A client's `publish`: checked here (namespace flag, subscribe rule, answers in flight),
  // then published by the control plane, which answers through published().
  void publishFromClient(WsConnection* con, std::optional<uint64_t> frame_id,
                         const ClientCommand& cmd) {
    Status allowed = checkPublish(con, cmd.channel);
    if (!allowed.isOk()) {
      counters_.publish_denied.fetch_add(1, std::memory_order_relaxed);
      sendError(con, frame_id, allowed);
      return;
    }
    if (con->publishes_in_flight >= kMaxPublishesInFlight) {
      counters_.publish_denied.fetch_add(1, std::memory_order_relaxed);
      sendError(con, frame_id,
                Status(ErrorCode::kLimitExceeded,
                       "more than " + std::to_string(kMaxPublishesInFlight) +
                           " publications waiting for an answer; wait for their replies"));
      return;
    }
    herald::v1::ClientPublish request;
    const uint64_t id = (static_cast<uint64_t>(ctx_.index) << 48) | next_publish_++;
    request.set_request_id(id);
    request.set_channel(cmd.channel);
    request.set_event(cmd.event);
    request.set_data(cmd.data);
    request.set_idempotency_key(cmd.idempotency_key);
    request.set_user(con->user);
    request.set_client(clientId(*con));
    if (!ctx_.publish || !ctx_.publish(request)) {
      counters_.publish_failed.fetch_add(1, std::memory_order_relaxed);
      sendError(con, frame_id,
                Status(ErrorCode::kUnavailable,
                       "herald-control is not reachable from this node; nothing was published"));
      return;
    }
    ++con->publishes_in_flight;
    pending_publishes_.add(id, {con, frame_id, steadyMillis() + kPublishTimeoutMs});
  }

  Status checkPublish(const WsConnection* con, const std::string& channel) const {
    auto name = checkChannelName(channel);
    if (!name.isOk()) {
      return name.status();
    }
    const herald::v1::Namespace& ns = settings_->namespaceFor(name->ns);
    if (!ns.allow_client_publish()) {
      return Status(ErrorCode::kPermissionDenied,
                    "client publish is not allowed in namespace '" + std::string(name->ns) + "'");
    }
    // Whoever may not read a channel may not write to it either.
    Status readable = checkSubscribe(ns, name.value(), channel, con->claims.get());
    if (!readable.isOk()) {
      return Status(readable.code(), "publish refused: " + readable.message());
    }
    return Status::ok();
  }

  void published(const herald::v1::ClientPublishResult& result) override {
    auto entry = pending_publishes_.take(result.request_id());
    if (!entry) {
      return;  // the connection closed, or the answer came after the timeout
    }
    WsConnection* con = entry->con;
    --con->publishes_in_flight;
    if (!result.error().empty()) {
      counters_.publish_failed.fetch_add(1, std::memory_order_relaxed);
      sendText(con, buildErrorFrame(entry->frame_id, errorCodeFromName(result.error()),
                                    result.message()));
      return;
    }
    counters_.client_publishes.fetch_add(1, std::memory_order_relaxed);
    sendText(con, buildPublishReplyFrame(entry->frame_id, result.offset(), result.epoch(),
                                         result.duplicate()));
  }

  void sendError(WsConnection* con, std::optional<uint64_t> id, const Status& status) {
    counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    sendText(con, buildErrorFrame(id, status.code(), status.message()));
  }

  // Answers a refused upgrade with an HTTP status and a JSON body; counts it.
  bool refuse(typename WsServer::connection_ptr& con, websocketpp::http::status_code::value status,
              const char* code, const std::string& message) {
    counters_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    con->set_status(status);
    con->replace_header("Content-Type", "application/json");
    con->set_body(nlohmann::json{{"error", code}, {"message", message}}.dump());
    return false;
  }

  bool onValidate(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    using websocketpp::http::status_code::value;
    if (requestPath(con->get_resource()) != "/ws") {
      return refuse(con, websocketpp::http::status_code::not_found, "not_found",
                    "WebSocket endpoint is /ws");
    }
    if (settings_->version == 0) {
      // No config from the control plane yet: no keys, rules or limits to apply.
      return refuse(con, websocketpp::http::status_code::service_unavailable, "unavailable",
                    "node has no config from the control plane yet");
    }
    const auto& limits = settings_->limits;
    // websocketpp made this connection before the accept, with the limit of that moment: a
    // change since then (applySettings) must reach it too.
    con->set_max_message_size(limits.max_inbound_frame_bytes());
    if (!originAllowed(limits, con->get_request_header("Origin"))) {
      counters_.refused_origin.fetch_add(1, std::memory_order_relaxed);
      return refuse(con, websocketpp::http::status_code::forbidden, "permission_denied",
                    "origin not allowed");
    }
    asio::error_code ec;
    const auto remote = con->get_raw_socket().remote_endpoint(ec);
    con->ip = ec ? std::string("?") : remote.address().to_string();
    if (!ctx_.ip_limiter->admitConnection(con->ip, steadyMillis(),
                                          limits.new_connections_per_ip_per_second(),
                                          limits.failed_auth_per_ip_per_minute())) {
      counters_.refused_ip_rate.fetch_add(1, std::memory_order_relaxed);
      return refuse(con, websocketpp::http::status_code::too_many_requests, "rate_limited",
                    "too many new connections or failed authentications from this address");
    }
    if (shutting_down_ ||
        !nodeHasRoom(limits, ctx_.node_connections->load(std::memory_order_relaxed))) {
      return refuse(con, websocketpp::http::status_code::service_unavailable, "limit_exceeded",
                    "node is full or draining");
    }
    // Hold the 101 response in the kernel until onOpen has queued `connected` behind it: one
    // segment and one client wake-up instead of two (onOpen uncorks).
    setCork(con->get_raw_socket().native_handle(), true);
    return true;
  }

  static void setCork(int fd, bool on) {
    const int value = on ? 1 : 0;
    ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
  }

  // The upgrade's headers are not read once the connection is open (get_resource() reads the
  // parsed URI), but websocketpp keeps them for the connection's life: free them.
  template <typename Message>
  static void dropHeaders(const Message& message) {
    auto& headers = const_cast<Message&>(message);
    std::vector<std::string> names;
    for (const auto& header : headers.get_headers()) {
      names.push_back(header.first);
    }
    for (const auto& name : names) {
      headers.remove_header(name);
    }
  }

  void onOpen(websocketpp::connection_hdl hdl) {
    auto ptr = server_.get_con_from_hdl(hdl);
    WsConnection* con = ptr.get();
    // websocketpp writes what onOpen sends (`connected`) from a handler it posts; uncorking from
    // a handler posted after it lets the 101 and that frame leave in one segment.
    struct Uncork {
      WsServer& server;
      typename WsServer::connection_ptr con;
      ~Uncork() {
        asio::post(server.get_io_service(), [con = std::move(con)] {
          setCork(con->get_raw_socket().native_handle(), false);
        });
      }
    } uncork{server_, ptr};
    dropHeaders(con->get_request());
    dropHeaders(con->get_response());
    con->open = true;
    con->client_seq = next_seq_++;
    con->opened_ms = steadyMillis();
    con->last_ping_ms = con->opened_ms;
    con->all_index = static_cast<uint32_t>(all_.size());
    all_.push_back(con);
    counters_.connections.fetch_add(1, std::memory_order_relaxed);
    counters_.connections_total.fetch_add(1, std::memory_order_relaxed);
    ctx_.node_connections->fetch_add(1, std::memory_order_relaxed);
    if (shutting_down_) {
      // Validated before the shutdown began, opened after: it gets the same 1012.
      con->greeted = true;
      closeWith(con, 1012, "service restart");
      return;
    }

    ConnectQuery query = parseConnectQuery(con->get_resource());
    con->pending_user_since = std::move(query.user_since);
    con->user_since_invalid = query.user_since_invalid;
    const std::optional<std::string>& token = query.token;
    if (token && !token->empty()) {
      auto claims = verifyToken(con, *token);
      if (!claims.isOk()) {
        sendError(con, std::nullopt, claims.status());
        closeWith(con, kCloseUnauthorized, "invalid token");
        return;
      }
      if (!setIdentity(con, std::make_shared<const TokenClaims>(std::move(claims.value())))) {
        return;
      }
    } else if (!settings_->allow_anonymous) {
      // No token yet: the first frame must be `authenticate` (before the handshake deadline).
      return;
    }
    greet(con, std::nullopt);
  }

  // Sends `connected` and applies `?subscribe=`; called once the connection may proceed.
  void greet(WsConnection* con, std::optional<uint64_t> id) {
    con->greeted = true;
    std::vector<std::string> subscribed;
    Status sub_status;
    const ConnectQuery query = parseConnectQuery(con->get_resource());
    if (query.subscribe && !query.subscribe->empty()) {
      sub_status = subscribe(con, *query.subscribe, &subscribed);
    } else if (query.subscribe_malformed) {
      sub_status = Status(ErrorCode::kBadRequest, "subscribe: malformed %-escape");
    }
    sendText(con, buildConnectedFrame(clientId(*con), *ctx_.node_id, con->user,
                                      ctx_.ping_interval_ms / 1000, subscribed, id));
    if (!sub_status.isOk()) {
      sendError(con, std::nullopt, sub_status);
    }
    if (con->user_since_invalid) {
      con->user_since_invalid = false;
      sendError(con, std::nullopt,
                Status(ErrorCode::kBadRequest,
                       "user_since: expected OFFSET or OFFSET:EPOCH (epoch up to 64 letters and "
                       "digits)"));
    }
    startUserRecovery(con);
  }

  // The personal stream recovers once the connection has a user and asked with user_since.
  void startUserRecovery(WsConnection* con) {
    if (!con->pending_user_since || con->user.empty()) {
      return;
    }
    StreamPosition since = std::move(*con->pending_user_since);
    con->pending_user_since.reset();
    startRecovery(con, std::string(), std::move(since));
  }

  Result<TokenClaims> verifyToken(WsConnection* con, const std::string& token) {
    const bool too_long = token.size() > kMaxTokenBytes;
    if (too_long) {
      counters_.tokens_too_long.fetch_add(1, std::memory_order_relaxed);
    }
    Result<TokenClaims> claims =
        too_long ? Result<TokenClaims>(
                       Status(ErrorCode::kUnauthorized,
                              "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes"))
        : settings_->verifier
            ? settings_->verifier->verify(token)
            : Result<TokenClaims>(
                  Status(ErrorCode::kUnauthorized, "token authentication is not configured"));
    if (!claims.isOk()) {
      counters_.auth_failures.fetch_add(1, std::memory_order_relaxed);
      if (ctx_.ip_limiter->recordAuthFailure(con->ip, steadyMillis(),
                                             settings_->limits.failed_auth_per_ip_per_minute())) {
        // This address guesses tokens: stop talking to it (new connections get 429 too).
        closeWith(con, kCloseTooManyRequests, "too many failed authentications");
      }
    }
    return claims;
  }

  // Attaches a verified identity; a connection's user never changes once set. False (and the
  // connection closing with 4030) when the user is at its cluster-wide connection limit.
  bool setIdentity(WsConnection* con, std::shared_ptr<const TokenClaims> claims) {
    if (con->user.empty() && ctx_.blocked_users->contains(claims->subject)) {
      counters_.refused_user_limit.fetch_add(1, std::memory_order_relaxed);
      sendError(con, std::nullopt,
                Status(ErrorCode::kLimitExceeded,
                       "user has max_connections_per_user (" +
                           std::to_string(settings_->limits.max_connections_per_user()) +
                           ") connections open across the cluster"));
      closeWith(con, kCloseUserLimit, "too many connections for this user");
      return false;
    }
    // The same leeway as at verification: a token accepted late must not expire at once.
    con->expires_at = claims->expires_at == 0 ? 0 : claims->expires_at + settings_->leeway_seconds;
    if (con->user.empty()) {
      con->user = claims->subject;
      ctx_.interest->userConnections(con->user, +1);
      auto& list = users_[con->user];
      list.push_back(con);
      if (list.size() == 1) {
        counters_.users.fetch_add(1, std::memory_order_relaxed);
        ctx_.interest->userAdded(con->user);
      }
    }
    con->claims = std::move(claims);
    return true;
  }

  void closeWith(WsConnection* con, uint16_t code, const std::string& reason) {
    if (con->backlog && code != kCloseSlowConsumer &&
        con->get_state() == websocketpp::session::state::open) {
      flushBacklog(con, true);  // what was queued goes out before the close frame
    }
    // The close frame waits behind what the socket still holds: a client that reads again
    // within the grace gets it (and those frames) instead of a cut connection (1006).
    con->set_close_handshake_timeout(kCloseGraceMs);
    websocketpp::lib::error_code ec;
    con->close(code, reason, ec);
  }

  // Once a second: close connections whose token expired or that never authenticated.
  void armSweep() {
    sweep_timer_.expires_after(std::chrono::seconds(1));
    sweep_timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) {
        return;
      }
      const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
      const int64_t now_ms = steadyMillis();
      std::vector<std::pair<WsConnection*, uint16_t>> closing;
      for (WsConnection* con : all_) {
        // WebSocket pings keep connections honest: no pong in time closes them (4015).
        if (now_ms - con->last_ping_ms >= ctx_.ping_interval_ms &&
            con->get_state() == websocketpp::session::state::open) {
          con->last_ping_ms = now_ms;
          websocketpp::lib::error_code ping_ec;
          con->ping("", ping_ec);
        }
        if (con->expires_at != 0 && con->expires_at <= now_s) {
          closing.emplace_back(con, kCloseTokenExpired);
        } else if (!con->greeted && now_ms - con->opened_ms >= ctx_.handshake_timeout_ms) {
          closing.emplace_back(con, kCloseUnauthorized);
        }
      }
      std::vector<std::pair<WsConnection*, uint64_t>> overdue;
      for (const auto& [id, con] : recoveries_) {
        if (Recovery* r = findRecovery(con, id); r != nullptr && r->deadlineMs() <= now_ms) {
          overdue.emplace_back(con, id);
        }
      }
      for (const auto& [con, id] : overdue) {
        if (Recovery* r = findRecovery(con, id)) {
          auto failed = r->fail("timeout");
          applyRecoveryStep(con, r, failed);
        }
      }
      for (const auto& entry : pending_publishes_.takeOverdue(now_ms)) {
        --entry.con->publishes_in_flight;
        counters_.publish_failed.fetch_add(1, std::memory_order_relaxed);
        sendText(entry.con,
                 buildErrorFrame(entry.frame_id, ErrorCode::kUnavailable,
                                 "no answer from herald-control within " +
                                     std::to_string(kPublishTimeoutMs / 1000) +
                                     " s: the publication may or may not have been published; "
                                     "retry with the same idempotency_key"));
      }
      for (auto& [con, code] : closing) {
        if (con->get_state() != websocketpp::session::state::open) {
          continue;
        }
        con->expires_at = 0;
        con->greeted = true;  // closed once, not again on the next sweep
        if (code == kCloseTokenExpired) {
          counters_.tokens_expired.fetch_add(1, std::memory_order_relaxed);
          closeWith(con, code, "token expired");
        } else {
          counters_.auth_timeouts.fetch_add(1, std::memory_order_relaxed);
          closeWith(con, code, "authentication required");
        }
      }
      armSweep();
    });
  }

  static int64_t steadyMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Closes websocketpp sends by itself for bad frames (docs/protocol.md close codes).
  void countProtocolClose(websocketpp::close::status::value code) {
    switch (code) {
      case websocketpp::close::status::message_too_big:  // 1009
        counters_.frames_too_large.fetch_add(1, std::memory_order_relaxed);
        break;
      case websocketpp::close::status::invalid_payload:  // 1007, e.g. invalid UTF-8
        counters_.invalid_utf8.fetch_add(1, std::memory_order_relaxed);
        break;
      case websocketpp::close::status::protocol_error:  // 1002
        counters_.protocol_violations.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        break;
    }
  }

  void onClosed(websocketpp::connection_hdl hdl) {
    auto ptr = server_.get_con_from_hdl(hdl);
    WsConnection* con = ptr.get();
    if (!con->open) {
      // A failed handshake: never registered. One that never finished in time is counted.
      if (con->get_ec() ==
          websocketpp::error::make_error_code(websocketpp::error::open_handshake_timeout)) {
        counters_.handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    countProtocolClose(con->get_local_close_code());
    con->open = false;
    for (const auto& recovery : con->recovering) {
      recoveries_.erase(recovery->requestId());
    }
    con->recovering.clear();
    if (con->publishes_in_flight > 0) {
      pending_publishes_.forget(con);
      con->publishes_in_flight = 0;
    }
    if (con->backlog) {
      dropBacklog(con);
    }
    for (const auto& channel : con->channels) {
      ctx_.subscribers->remove(channel);
      if (index_.remove(channel, con)) {
        ctx_.interest->channelRemoved(channel);
      }
    }
    counters_.subscriptions.fetch_sub(con->channels.size(), std::memory_order_relaxed);
    con->channels.clear();
    if (!con->user.empty()) {
      ctx_.interest->userConnections(con->user, -1);
      removeUser(con);
    }
    // Swap-and-pop out of the connection list.
    WsConnection* last = all_.back();
    all_[con->all_index] = last;
    last->all_index = con->all_index;
    all_.pop_back();
    counters_.connections.fetch_sub(1, std::memory_order_relaxed);
    ctx_.node_connections->fetch_sub(1, std::memory_order_relaxed);
  }

  void removeUser(WsConnection* con) {
    auto it = users_.find(con->user);
    if (it == users_.end()) {
      return;
    }
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), con), list.end());
    if (list.empty()) {
      users_.erase(it);
      counters_.users.fetch_sub(1, std::memory_order_relaxed);
      ctx_.interest->userRemoved(con->user);
    }
  }

  void onHttp(websocketpp::connection_hdl hdl) {
    auto con = server_.get_con_from_hdl(hdl);
    const std::string& resource = con->get_resource();
    const std::string path = resource.substr(0, resource.find('?'));
    int status = 404;
    std::string type = "application/json";
    std::string body = "{\"error\":\"not_found\"}";
    if (con->get_request().get_method() != "GET") {
      status = 405;
      body = "{\"error\":\"method_not_allowed\"}";
    } else if (ctx_.http) {
      ctx_.http(path, &status, &type, &body);
    }
    con->set_status(static_cast<websocketpp::http::status_code::value>(status));
    con->replace_header("Content-Type", type);
    con->replace_header("Cache-Control", "no-store");
    con->set_body(body);
  }

  void onMessage(websocketpp::connection_hdl hdl, const typename WsServer::message_ptr& msg) {
    auto ptr = server_.get_con_from_hdl(hdl);
    WsConnection* con = ptr.get();
    counters_.messages_in.fetch_add(1, std::memory_order_relaxed);
    const auto& limits = settings_->limits;
    if (!con->bucket.take(steadyMillis(), limits.client_messages_per_minute(),
                          limits.client_message_burst())) {
      counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      if (++con->rate_violations >= kMaxRateViolations) {
        closeWith(con, kCloseTooManyRequests, "too many messages");
        return;
      }
      sendError(con, peekFrameId(msg->get_payload()),
                Status(ErrorCode::kRateLimited,
                       "at most " + std::to_string(limits.client_messages_per_minute()) +
                           " messages per minute (burst " +
                           std::to_string(limits.client_message_burst()) + ")"));
      return;
    }
    con->rate_violations = 0;
    if (msg->get_opcode() != websocketpp::frame::opcode::text) {
      sendError(con, std::nullopt,
                Status(ErrorCode::kBadRequest, "binary frames are not supported: send JSON text"));
      return;
    }
    ParsedFrame parsed = parseClientFrame(
        msg->get_payload(), con->greeted ? FrameScope::kAny : FrameScope::kAuthenticateOnly);
    if (!parsed.status.isOk()) {
      if (parsed.too_deep) {
        counters_.json_too_deep.fetch_add(1, std::memory_order_relaxed);
      }
      sendError(con, parsed.id, parsed.status);
      return;
    }
    const ClientCommand& cmd = parsed.command;
    switch (cmd.type) {
      case CommandType::kPing:
        sendText(con, buildPongFrame(parsed.id));
        break;
      case CommandType::kSubscribe: {
        std::vector<std::string> accepted;
        std::vector<std::string> fresh;
        Status s = subscribe(con, cmd.channels, &accepted, &fresh);
        if (!s.isOk()) {
          sendError(con, parsed.id, s);
          break;
        }
        sendText(con, buildReplyFrame(parsed.id, accepted));
        // `since` applies to channels this frame subscribed; held ones already get live frames.
        for (const auto& [channel, position] : cmd.since) {
          if (std::find(fresh.begin(), fresh.end(), channel) != fresh.end()) {
            startRecovery(con, channel, position);
          }
        }
        break;
      }
      case CommandType::kUnsubscribe:
        unsubscribe(con, cmd.channels);
        sendText(con, buildReplyFrame(parsed.id, cmd.channels));
        break;
      case CommandType::kPublish:
        publishFromClient(con, parsed.id, cmd);
        break;
      case CommandType::kAuthenticate: {
        // The frame's position replaces the URL's for this attempt only.
        auto previous = con->pending_user_since;
        if (cmd.user_since && con->user.empty()) {
          con->pending_user_since = cmd.user_since;
        }
        if (!authenticate(con, parsed.id, cmd.token) && con->user.empty()) {
          con->pending_user_since = std::move(previous);
        }
        break;
      }
    }
  }

  // First token on a waiting or anonymous connection, or a refresh before expiry.
  // False when the token was refused.
  bool authenticate(WsConnection* con, std::optional<uint64_t> id, const std::string& token) {
    auto claims = verifyToken(con, token);
    if (!claims.isOk()) {
      sendError(con, id, claims.status());
      return false;
    }
    if (!con->user.empty() && claims->subject != con->user) {
      sendError(con, id,
                Status(ErrorCode::kPermissionDenied,
                       "token is for another user than this "
                       "connection's"));
      return false;
    }
    if (!setIdentity(con, std::make_shared<const TokenClaims>(std::move(claims.value())))) {
      return false;
    }
    if (!con->greeted) {
      greet(con, id);
    } else {
      sendText(con, buildReplyFrame(id, {}));
      startUserRecovery(con);
    }
    return true;
  }

  // Counts refused subscriptions by kind for /stats.
  Status subscribe(WsConnection* con, const std::vector<std::string>& channels,
                   std::vector<std::string>* accepted, std::vector<std::string>* fresh = nullptr) {
    Status s = subscribeAll(con, channels, accepted, fresh);
    if (s.code() == ErrorCode::kPermissionDenied) {
      counters_.subscribe_denied.fetch_add(1, std::memory_order_relaxed);
    } else if (s.code() == ErrorCode::kLimitExceeded) {
      counters_.subscribe_over_limit.fetch_add(1, std::memory_order_relaxed);
    }
    return s;
  }

  // All-or-nothing: a frame with one bad channel subscribes to none of its channels.
  Status subscribeAll(WsConnection* con, const std::vector<std::string>& channels,
                      std::vector<std::string>* accepted, std::vector<std::string>* added) {
    std::vector<std::string> fresh;
    std::vector<uint32_t> caps;  // each fresh channel's namespace max_subscribers
    for (const auto& channel : channels) {
      auto name = checkChannelName(channel);
      if (!name.isOk()) {
        return name.status();
      }
      const herald::v1::Namespace& ns = settings_->namespaceFor(name->ns);
      Status allowed = checkSubscribe(ns, name.value(), channel, con->claims.get());
      if (!allowed.isOk()) {
        return allowed;
      }
      const bool already =
          std::find(con->channels.begin(), con->channels.end(), channel) != con->channels.end() ||
          std::find(fresh.begin(), fresh.end(), channel) != fresh.end();
      if (!already) {
        fresh.push_back(channel);
        caps.push_back(ns.max_subscribers());
      }
    }
    if (Status within = checkSubscriptionLimits(settings_->limits, con->channels, fresh);
        !within.isOk()) {
      return within;
    }
    if (auto full = ctx_.subscribers->tryAdd(fresh, caps)) {
      return Status(ErrorCode::kLimitExceeded, "channel '" + fresh[*full] +
                                                   "' has its namespace's max_subscribers (" +
                                                   std::to_string(caps[*full]) + ") on this node");
    }
    for (auto& channel : fresh) {
      if (index_.add(channel, con)) {
        ctx_.interest->channelAdded(channel);
      }
      con->channels.push_back(channel);
    }
    counters_.subscriptions.fetch_add(fresh.size(), std::memory_order_relaxed);
    *accepted = channels;
    if (added != nullptr) {
      *added = std::move(fresh);
    }
    return Status::ok();
  }

  void unsubscribe(WsConnection* con, const std::vector<std::string>& channels) {
    for (const auto& channel : channels) {
      auto it = std::find(con->channels.begin(), con->channels.end(), channel);
      if (it == con->channels.end()) {
        continue;
      }
      *it = std::move(con->channels.back());
      con->channels.pop_back();
      counters_.subscriptions.fetch_sub(1, std::memory_order_relaxed);
      ctx_.subscribers->remove(channel);
      if (index_.remove(channel, con)) {
        ctx_.interest->channelRemoved(channel);
      }
    }
  }

  ShardContext ctx_;
  NodeSettingsPtr settings_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_service io_;
  std::unique_ptr<asio::io_service::work> work_;
  std::shared_ptr<asio::ssl::context> tls_;  // wss:// only
  WsServer server_;
  std::thread thread_;
  SubscriptionIndex<WsConnection> index_;
  std::vector<WsConnection*> all_;
  std::unordered_map<std::string, std::vector<WsConnection*>> users_;
  asio::steady_timer sweep_timer_{io_};
  asio::steady_timer flush_timer_{io_};
  bool flush_armed_ = false;
  std::vector<WsConnection*> backlog_;                      // connections with queued frames
  std::unordered_map<uint64_t, WsConnection*> recoveries_;  // request id -> connection
  uint64_t next_recovery_ = 1;
  uint64_t next_publish_ = 1;
  PendingPublishes<WsConnection> pending_publishes_;
  uint64_t next_seq_ = 1;
  bool shutting_down_ = false;
};

Shard::Shard(ShardContext context, NodeSettingsPtr settings) {
  if (context.tls_cert_file.empty()) {
    impl_ = std::make_unique<ShardEngine<WsConfig>>(std::move(context), std::move(settings));
  } else {
    impl_ = std::make_unique<ShardEngine<WssConfig>>(std::move(context), std::move(settings));
  }
}

Shard::~Shard() { stop(); }

uint16_t Shard::listen(const std::string& host, uint16_t port) { return impl_->listen(host, port); }

void Shard::start() { impl_->start(); }

void Shard::deliver(DeliveryPtr delivery) {
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

void Shard::recovered(std::shared_ptr<const herald::v1::RecoverResponse> page) {
  Impl* impl = impl_.get();
  impl_->post([impl, page = std::move(page)] { impl->recovered(*page); });
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

const ShardCounters& Shard::counters() const { return impl_->counters_; }

}  // namespace herald::node
