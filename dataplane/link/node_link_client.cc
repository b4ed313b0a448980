#include "dataplane/link/node_link_client.h"

#include <algorithm>

#include <openssl/rand.h>

#include "common/clock.h"
#include "common/hex.h"
#include "common/logging.h"
#include "common/version.h"

namespace herald::node {

using Stream = grpc::ClientReaderWriter<herald::v1::NodeMessage, herald::v1::ControlMessage>;

namespace {

// Client ids (node-shard-sequence) repeat when a node restarts under the same id; this tells
// herald-control which start of the node it hears from.
std::string newInstanceId() {
  unsigned char random[8] = {};
  if (RAND_bytes(random, sizeof(random)) != 1) {
    const uint64_t now =
        static_cast<uint64_t>(steadyMicros()) ^ static_cast<uint64_t>(unixMillis());
    for (size_t i = 0; i < sizeof(random); ++i) {
      random[i] = static_cast<unsigned char>(now >> (8 * i));
    }
  }
  return toHex(random, sizeof(random));
}

}  // namespace

NodeLinkClient::NodeLinkClient(NodeLinkOptions options, InterestTracker& interest,
                               NodeLinkHandler& handler)
    : options_(std::move(options)),
      interest_(interest),
      handler_(handler),
      instance_(newInstanceId()),
      endpoints_(options_.control_addresses, options_.reconnect_max_ms) {
  interest_.setOrderLock(&report_order_);
  interest_.setNotifier([this] {
    std::lock_guard<std::mutex> lock(mu_);
    interest_pending_ = true;
    cv_.notify_all();
  });
}

NodeLinkClient::~NodeLinkClient() {
  stop();
  interest_.setNotifier(nullptr);
  interest_.setOrderLock(nullptr);
  if (client_log_ != nullptr) {
    client_log_->setNotifier(nullptr);
    client_log_->setOrderLock(nullptr);
  }
}

void NodeLinkClient::setClientEventLog(ClientEventLog* log) {
  client_log_ = log;
  client_log_->setOrderLock(&report_order_);
  client_log_->setNotifier([this] {
    std::lock_guard<std::mutex> lock(mu_);
    interest_pending_ = true;
    cv_.notify_all();
  });
}

void NodeLinkClient::start() {
  thread_ = std::thread([this] { runLoop(); });
}

void NodeLinkClient::stop() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (context_ != nullptr) {
      context_->TryCancel();
    }
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool NodeLinkClient::reportStatsNow(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!connected_) {
    return false;
  }
  const uint64_t generation = ++stats_requested_;
  cv_.notify_all();
  return cv_.wait_for(lock, timeout, [&] { return stats_written_ >= generation || stopping_; }) &&
         stats_written_ >= generation;
}

bool NodeLinkClient::send(herald::v1::NodeMessage message, bool first) {
  std::lock_guard<std::mutex> lock(mu_);
  if (outbox_.size() >= kMaxOutbox || stopping_) {
    return false;
  }
  if (first) {
    outbox_.insert(outbox_.begin(), std::move(message));
  } else {
    outbox_.push_back(std::move(message));
  }
  cv_.notify_all();
  return true;
}

bool NodeLinkClient::sendFresh(herald::v1::NodeMessage message, size_t max_waiting) {
  if (!connected_.load()) {
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (outbox_.size() >= std::min(max_waiting, kMaxOutbox) || stopping_) {
    return false;
  }
  outbox_.push_back(std::move(message));
  cv_.notify_all();
  return true;
}

void NodeLinkClient::runLoop() {
  auto log = componentLogger("link");
  const bool several = endpoints_.size() > 1;
  while (!stopping_) {
    runSession();
    if (stopping_) {
      break;
    }
    const std::string failed = endpoints_.current();
    const auto delay = endpoints_.onFailure();
    current_ = endpoints_.currentIndex();
    reconnects_.fetch_add(1);
    const uint32_t attempt = endpoints_.failures();
    if (attempt <= endpoints_.size() || attempt % 10 == 0) {
      if (several) {
        log->warn(
            "control plane {} unreachable or link closed; retrying with {} in {} ms "
            "(attempt {})",
            failed, endpoints_.current(), delay.count(), attempt + 1);
      } else {
        log->warn("control plane {} unreachable or link closed; retrying (attempt {})", failed,
                  attempt + 1);
      }
    }
    sleep(delay);
  }
}

void NodeLinkClient::sleep(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

bool NodeLinkClient::write(Stream* stream, const herald::v1::NodeMessage& message) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return stream->Write(message);
}

std::shared_ptr<grpc::Channel> NodeLinkClient::newChannel(const std::string& address) const {
  grpc::ChannelArguments args;
  // Detect a control plane that vanished without closing the connection.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
  // A fresh channel per attempt with its own subchannel: a subchannel left in a failed state
  // by a control plane that was still starting would otherwise be reused and fail again.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options_.tls_ca.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options_.tls_ca;
    tls.pem_cert_chain = options_.tls_cert;
    tls.pem_private_key = options_.tls_key;
    credentials = grpc::SslCredentials(tls);
  }
  return grpc::CreateCustomChannel(address, credentials, args);
}

bool NodeLinkClient::dialed(grpc::Channel& channel, const std::string& address) const {
  // Without this, a call on a channel that is still connecting waits for gRPC's own connect
  // timeout (20 s) before it fails, and the live addresses after this one wait with it.
  const auto deadline = std::chrono::system_clock::now() + kDialTimeout;
  grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return false;  // refused, unreachable, TLS failed: the call would fail too
    }
    if (stopping_) {
      return false;
    }
    if (std::chrono::system_clock::now() >= deadline) {
      componentLogger("link")->warn("control plane {} did not answer within {} s", address,
                                    kDialTimeout.count());
      return false;
    }
    // In slices, so that stop() is not held up by a dial.
    channel.WaitForStateChange(state, std::min(deadline, std::chrono::system_clock::now() +
                                                             std::chrono::milliseconds(100)));
    state = channel.GetState(/*try_to_connect=*/true);
  }
  return true;
}

void NodeLinkClient::runSession() {
  auto log = componentLogger("link");
  const std::string address = endpoints_.current();
  auto channel = newChannel(address);
  if (endpoints_.size() > 1 && !dialed(*channel, address)) {
    return;
  }
  auto stub = herald::v1::NodeLink::NewStub(channel);
  grpc::ClientContext context;
  if (!options_.secret.empty()) {
    // herald-control checks it before it reads any message of this call.
    context.AddMetadata("x-herald-node-secret", options_.secret);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return;
    }
    context_ = &context;
    session_over_ = false;
  }
  session_configured_ = false;
  std::unique_ptr<Stream> stream = stub->Session(&context);

  handler_.onSessionStarted();
  herald::v1::NodeMessage hello_msg;
  auto* hello = hello_msg.mutable_hello();
  hello->set_node_id(options_.node_id);
  hello->set_build(std::string("herald-node ") + kVersion);
  hello->set_listen_address(options_.listen_address);
  hello->set_capacity(options_.capacity);
  hello->set_secret(options_.secret);
  hello->set_instance(instance_);
  if (client_log_ != nullptr && client_log_->enabled()) {
    // Whatever went out on the last link may be lost: the full list goes first on this one.
    hello->set_reports_clients(true);
    client_log_->requestFull();
  }
  std::vector<std::string> channels, users;
  interest_.takeFull(&channels, &users, hello->mutable_user_counts());
  for (auto& c : channels) {
    hello->add_channels(std::move(c));
  }
  for (auto& u : users) {
    hello->add_users(std::move(u));
  }

  bool had_config = false;
  std::thread writer;
  if (write(stream.get(), hello_msg)) {
    handler_.onHelloSent(hello_msg.hello());
    writer = std::thread([this, s = stream.get()] { writerLoop(s); });
    herald::v1::ControlMessage message;
    while (stream->Read(&message)) {
      switch (message.kind_case()) {
        case herald::v1::ControlMessage::kConfig: {
          const auto& snap = message.config();
          Status s = handler_.onConfig(snap);
          herald::v1::NodeMessage reply;
          if (s.isOk()) {
            if (snap.heartbeat_interval_ms() >= 50) {
              heartbeat_ms_ = snap.heartbeat_interval_ms();
            }
            reply.mutable_ack()->set_version(snap.version());
            reply.mutable_ack()->set_nonce(snap.nonce());
            if (!had_config) {
              log->info("connected to control plane {}; config version {} applied", address,
                        snap.version());
              endpoints_.onConnected();
            }
            had_config = true;
            session_configured_ = true;
            connected_ = true;
          } else {
            log->error("refusing config version {}: {}", snap.version(), s.message());
            reply.mutable_nack()->set_version(snap.version());
            reply.mutable_nack()->set_nonce(snap.nonce());
            reply.mutable_nack()->set_error(s.message());
          }
          write(stream.get(), reply);
          break;
        }
        case herald::v1::ControlMessage::kDeliver:
          handler_.onDeliver(message.deliver());
          break;
        case herald::v1::ControlMessage::kDisconnect:
          handler_.onDisconnect(message.disconnect());
          break;
        case herald::v1::ControlMessage::kSubscription:
        case herald::v1::ControlMessage::kRefresh:
          handler_.onServerCommand(message);
          break;
        case herald::v1::ControlMessage::kJoinLeave:
          handler_.onJoinLeave(message.join_leave());
          break;
        case herald::v1::ControlMessage::kUserLimit:
          handler_.onUserLimit(message.user_limit());
          break;
        case herald::v1::ControlMessage::kPublished:
          handler_.onPublished(message.published());
          break;
        case herald::v1::ControlMessage::kRecovered:
          handler_.onRecovered(message.recovered());
          break;
        case herald::v1::ControlMessage::kPresenceQuery:
          handler_.onPresenceQuery(message.presence_query());
          break;
        case herald::v1::ControlMessage::kHeartbeatEcho: {
          const int64_t rtt = steadyMicros() - message.heartbeat_echo().sent_steady_us();
          if (rtt >= 0 && rtt < 3'600'000'000) {  // an echo of ours, not a stray value
            rtt_.observeMicros(rtt);
            last_rtt_us_ = rtt;
          }
          break;
        }
        case herald::v1::ControlMessage::KIND_NOT_SET:
          break;
      }
    }
  }
  connected_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    session_over_ = true;
    cv_.notify_all();
  }
  if (writer.joinable()) {
    writer.join();
  }
  {
    // Client publications are answered `unavailable` by their shard after 5 s: one sent on a
    // later session could be published after the client gave up (and retried). Drop them, and
    // join / leave reports, stale by then (docs/protocol.md "join and leave").
    std::lock_guard<std::mutex> lock(mu_);
    outbox_.erase(std::remove_if(outbox_.begin(), outbox_.end(),
                                 [](const herald::v1::NodeMessage& m) {
                                   return m.has_publish() || m.has_join_leave();
                                 }),
                  outbox_.end());
  }
  if (stopping_) {
    // Otherwise the stream has ended already (closed, refused, or cancelled by the redial
    // watchdog) and Finish returns the control plane's status, e.g. UNAUTHENTICATED.
    context.TryCancel();
  }
  grpc::Status status = stream->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    context_ = nullptr;
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && !stopping_) {
    log->error("control plane refused this node: {}", status.error_message());
  } else if (had_config && !stopping_) {
    log->warn("link to control plane {} closed: {}", address, status.error_message());
  } else if (!stopping_) {
    log->debug("link attempt to {} failed: code {}: {}", address,
               static_cast<int>(status.error_code()), status.error_message());
  }
}

void NodeLinkClient::writerLoop(Stream* stream) {
  // A session that got no config snapshot this long after Hello is stuck (seen when the node
  // dials while the control plane is still starting): cancel it and dial again.
  constexpr auto kFirstConfigTimeout = std::chrono::seconds(2);
  const auto started = std::chrono::steady_clock::now();
  auto next_stats = started;
  std::vector<herald::v1::NodeMessage> outgoing;
  for (;;) {
    if (!session_configured_ && std::chrono::steady_clock::now() - started > kFirstConfigTimeout) {
      componentLogger("link")->warn("no config from control plane within 2 s of Hello; redialing");
      std::lock_guard<std::mutex> lock(mu_);
      if (context_ != nullptr) {
        context_->TryCancel();
      }
      return;
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_stats, [this] {
        return stopping_ || session_over_ || interest_pending_ ||
               stats_requested_ > stats_written_ || (session_configured_ && !outbox_.empty());
      });
      if (stopping_ || session_over_) {
        return;
      }
      interest_pending_ = false;
      if (stats_requested_ > stats_written_) {
        next_stats = std::chrono::steady_clock::now();
      }
      // Taken before the interest delta: every queued request's interest is then in it (or
      // in an earlier one), so the control plane routes the stream here before answering.
      if (session_configured_) {
        outgoing.swap(outbox_);
      }
    }
    herald::v1::NodeMessage delta;
    bool changed = false;
    {
      // The interest and the connections' events as of one instant (ClientEventLog).
      std::unique_lock<std::shared_mutex> order(report_order_);
      changed = interest_.takeDelta(delta.mutable_interest());
      if (client_log_ != nullptr) {
        client_log_->seal();
      }
    }
    // The events go in parts of about a megabyte, the first with the interest.
    while (true) {
      const bool events =
          client_log_ != nullptr && client_log_->takeDelta(delta.mutable_interest());
      if (!changed && !events) {
        break;
      }
      if (!write(stream, delta)) {
        return;
      }
      delta.Clear();
      changed = false;
    }
    for (size_t i = 0; i < outgoing.size(); ++i) {
      if (!write(stream, outgoing[i])) {
        // Requeue what did not go out, ahead of newer messages, for the next session.
        std::lock_guard<std::mutex> lock(mu_);
        outbox_.insert(outbox_.begin(), std::make_move_iterator(outgoing.begin() + i),
                       std::make_move_iterator(outgoing.end()));
        return;
      }
    }
    outgoing.clear();
    if (std::chrono::steady_clock::now() >= next_stats) {
      uint64_t generation = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        generation = stats_requested_;
      }
      herald::v1::NodeMessage stats;
      *stats.mutable_stats() = handler_.currentStats();
      stats.mutable_stats()->set_sent_steady_us(steadyMicros());
      if (!write(stream, stats)) {
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        stats_written_ = std::max(stats_written_, generation);
        cv_.notify_all();
      }
      next_stats = std::chrono::steady_clock::now() + std::chrono::milliseconds(heartbeat_ms_);
    }
  }
}

}  // namespace herald::node
