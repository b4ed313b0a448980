#include "dataplane/node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/host_port.h"
#include "common/logging.h"
#include "common/node_identity.h"
#include "common/pem_file.h"
#include "dataplane/link/request_id.h"
#include "dataplane/shard/server_commands.h"
#include "dataplane/transport/deflate_settings.h"

namespace herald::node {

namespace {

void ensurePortFree(const std::string& host, uint16_t port) {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&storage);
    a6->sin6_family = family = AF_INET6;
    a6->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) != 1) {
      throw std::runtime_error("listen: '" + host + "' is not an IP address");
    }
    len = sizeof(sockaddr_in6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&storage);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a4->sin_addr) != 1) {
      throw std::runtime_error("listen: '" + host + "' is not an IP address");
    }
    len = sizeof(sockaddr_in);
  }
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&storage), len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             std::strerror(err));
  }
}

}  // namespace

Node::Node(NodeConfig config) : config_(std::move(config)) {}

Node::~Node() { shutdown(std::chrono::milliseconds(0)); }

std::string Node::start() {
  auto hp = parseHostPort(config_.listen).value();
  uint32_t shard_count = config_.shards;
  if (shard_count == 0) {
    shard_count = std::max(1u, std::thread::hardware_concurrency());
  }
  auto settings = defaultNodeSettings();
  // Read by every shard's transport and by framing; set before any shard runs.
  setDeflateSettings(DeflateSettings{config_.compression, config_.compression_min_bytes,
                                     static_cast<int>(config_.compression_level)});
  addHttpRoutes();
  uint16_t port = hp.port;
  if (port != 0) {
    // Shards share the port through SO_REUSEPORT, which would also let a second node (or any
    // process) bind it silently: probe without the option first so that case fails loudly.
    ensurePortFree(hp.host, port);
  }
  for (uint32_t i = 0; i < shard_count; ++i) {
    ShardContext ctx;
    ctx.index = i;
    ctx.ping_interval_ms = config_.ping_interval_ms;
    ctx.pong_timeout_ms = config_.pong_timeout_ms;
    ctx.handshake_timeout_ms = config_.handshake_timeout_ms;
    ctx.tls_cert_file = config_.tls_cert;
    ctx.tls_key_file = config_.tls_key;
    ctx.services.node_id = &config_.node_id;
    ctx.services.interest = &interest_;
    ctx.services.client_log = &client_log_;
    ctx.services.join_leave = &join_leave_;
    ctx.services.jwks = &jwks_;
    ctx.services.node_connections = &node_connections_;
    ctx.services.ip_limiter = &ip_limiter_;
    ctx.services.blocked_users = &blocked_users_;
    ctx.services.subscribers = &channel_subscribers_;
    ctx.services.deliveries = &delivery_tallies_;
    ctx.services.hooks = &hooks_;
    ctx.services.uplink = this;
    ctx.routes = &routes_;
    shards_.push_back(std::make_unique<Shard>(std::move(ctx), settings));
    // The first shard may pick the port (port 0); the others join it through SO_REUSEPORT.
    port = shards_.back()->listen(hp.host, port);
  }
  const bool v6 = hp.host.find(':') != std::string::npos;
  address_ = (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(port);
  if (config_.node_id.empty()) {
    // A wildcard address says nothing about which machine this is: use the host name.
    std::string host = hp.host;
    if (host == "0.0.0.0" || host == "::") {
      char name[256] = {};
      ::gethostname(name, sizeof(name) - 1);
      host = name;
    }
    config_.node_id = "node-" + host + "-" + std::to_string(port);
  }
  // Shards read the id through a pointer, only once their threads start (below).

  NodeLinkOptions options;
  options.control_addresses = controlAddresses(config_);
  options.node_id = config_.node_id;
  options.listen_address = address_;
  options.capacity = settings->limits.max_connections_per_node();
  options.reconnect_max_ms = config_.reconnect_max_ms;
  options.secret = config_.node_secret;
  if (!config_.control_tls_ca.empty()) {
    options.tls_ca = readPemFile(config_.control_tls_ca, "control_tls_ca");
  }
  if (!config_.control_tls_cert.empty()) {
    options.tls_cert = readPemFile(config_.control_tls_cert, "control_tls_cert");
    options.tls_key = readPemFile(config_.control_tls_key, "control_tls_key");
  }
  resync_ = std::make_unique<LinkResync>(static_cast<LinkResync::Output&>(*this));
  link_ =
      std::make_unique<NodeLinkClient>(options, interest_, static_cast<NodeLinkHandler&>(*this));
  link_->setClientEventLog(&client_log_);
  // Stale by the time a link is back, or behind a long queue: dropped (and counted) instead.
  join_leave_reporter_ =
      std::make_unique<JoinLeaveReporter>(join_leave_, [this](herald::v1::NodeMessage message) {
        return link_->sendFresh(std::move(message), kMaxWaitingForJoinLeave);
      });
  join_leave_reporter_->start();
  // Shards answer /health and /stats, which read link_: start them once it exists.
  for (auto& shard : shards_) {
    shard->start();
  }
  link_->start();
  componentLogger("node")->info("node {} with {} shards; control plane {}", config_.node_id,
                                shard_count, config_.control);
  componentLogger("node")->info("listening on {}", address_);
  if (config_.compression) {
    componentLogger("node")->info(
        "permessage-deflate offered to clients: messages of {}+ bytes, zlib level {}",
        config_.compression_min_bytes, config_.compression_level);
  }
  return address_;
}

Status Node::onConfig(const herald::v1::ConfigSnapshot& snapshot) {
  if (snapshot.version() < session_config_high_water_) {
    return Status::ok();  // older than what this session applied: ack, keep the newer one
  }
  std::unique_lock<std::mutex> lock(settings_mu_);
  // Keys fetched from another URL than this snapshot's never serve it.
  auto settings = buildNodeSettings(snapshot, jwks_.keysFor(snapshot.auth().jwks_url()));
  if (!settings.isOk()) {
    return settings.status();
  }
  last_snapshot_ = std::make_shared<const herald::v1::ConfigSnapshot>(snapshot);
  if (snapshot.version() != config_version_.load()) {
    componentLogger("node")->info("applying config version {}", snapshot.version());
  }
  config_version_ = snapshot.version();
  session_config_high_water_ = snapshot.version();
  hooks_.configure(snapshot.hooks());
  client_log_.setEnabled(snapshot.report_clients());
  for (auto& shard : shards_) {
    shard->applySettings(settings.value());
  }
  lock.unlock();
  // After the snapshot is accepted (a refused one changes nothing), and outside settings_mu_:
  // another URL drops the old one's keys, which applies the settings again.
  jwks_.configure(snapshot.auth().jwks_url(), snapshot.auth().jwks_refresh_seconds());
  return Status::ok();
}

// ---- NodeLinkHandler: on the NodeLink reader thread

void Node::onSessionStarted() {
  blocked_users_.clear();
  // A restarted control plane may count versions anew (e.g. a wiped state file).
  session_config_high_water_ = 0;
}

void Node::onHelloSent(const herald::v1::Hello& hello) {
  resync_->sessionStarted({hello.channels().begin(), hello.channels().end()},
                          {hello.users().begin(), hello.users().end()});
  // Client recovery requests in flight on the old session may be lost with it: ask again.
  for (auto& shard : shards_) {
    shard->linkSessionStarted();
  }
}

// A publication's first step on the node: the resync passes it on (or holds it while its
// stream's gap is fetched), then dispatch() hands the one shared Delivery to every shard.
void Node::onDeliver(const herald::v1::Deliver& deliver) { resync_->onPublication(deliver); }

void Node::onUserLimit(const herald::v1::UserLimit& limit) {
  blocked_users_.set(limit.user(), limit.blocked());
}

void Node::onRecovered(const herald::v1::RecoverResponse& page) {
  if (LinkResync::ownsRequest(page.request_id())) {
    resync_->page(page);
    return;
  }
  const uint64_t shard = shardOfRequest(page.request_id());
  if (shard < shards_.size()) {
    shards_[shard]->recovered(std::make_shared<const herald::v1::RecoverResponse>(page));
  }
}

void Node::onPublished(const herald::v1::ClientPublishResult& result) {
  const uint64_t shard = shardOfRequest(result.request_id());
  if (shard < shards_.size()) {
    shards_[shard]->published(std::make_shared<const herald::v1::ClientPublishResult>(result));
  }
}

herald::v1::NodeStats Node::currentStats() {
  // The heartbeat's: the figures, plus what only it reports (taking the deliveries empties them).
  herald::v1::NodeStats s = stats();
  {
    // The scan holds the lock every subscribe takes: at most once per kTopChannelsEvery.
    std::lock_guard<std::mutex> lock(top_channels_mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - top_channels_at_ >= kTopChannelsEvery) {
      top_channels_ = channel_subscribers_.top(kReportedTopChannels);
      top_channels_at_ = now;
    }
    for (const auto& [channel, subscribers] : top_channels_) {
      auto* entry = s.add_top_channels();
      entry->set_channel(channel);
      entry->set_subscribers(subscribers);
    }
  }
  delivery_tallies_.take(&s);
  return s;
}

// ---- LinkResync::Output

bool Node::requestFirst(const herald::v1::RecoverRequest& request) {
  herald::v1::NodeMessage message;
  *message.mutable_recover() = request;
  return link_->send(std::move(message), /*first=*/true);
}

bool Node::recover(const herald::v1::RecoverRequest& request) {
  herald::v1::NodeMessage message;
  *message.mutable_recover() = request;
  return link_ != nullptr && link_->send(std::move(message));
}

bool Node::publish(const herald::v1::ClientPublish& request) {
  // Not queued for a later session: the client hears "unavailable" now and may retry.
  if (link_ == nullptr || !link_->connected()) {
    return false;
  }
  herald::v1::NodeMessage message;
  *message.mutable_publish() = request;
  return link_->send(std::move(message));
}

void Node::dispatch(const DeliveryPtr& delivery) {  // LinkResync::Output
  for (auto& shard : shards_) {
    shard->enqueue(delivery);
  }
}

void Node::onPresenceQuery(const herald::v1::PresenceQuery& query) {
  // Each shard answers for its own connections on its own thread; the last one sends.
  struct Gather {
    std::mutex mu;
    herald::v1::PresenceReply reply;
    size_t remaining = 0;
  };
  auto gather = std::make_shared<Gather>();
  gather->reply.set_request_id(query.request_id());
  gather->remaining = shards_.size();
  auto shared = std::make_shared<const herald::v1::PresenceQuery>(query);
  const int max_entries = static_cast<int>(query.max_entries());
  for (auto& shard : shards_) {
    shard->presence(shared, [this, gather, max_entries](herald::v1::PresenceReply part) {
      std::lock_guard<std::mutex> lock(gather->mu);
      auto& reply = gather->reply;
      reply.set_connections(reply.connections() + part.connections());
      reply.set_truncated(reply.truncated() || part.truncated());
      for (auto& entry : *part.mutable_entries()) {
        if (reply.entries_size() >= max_entries) {
          reply.set_truncated(true);
          break;
        }
        *reply.add_entries() = std::move(entry);
      }
      for (auto& count : *part.mutable_counts()) {
        *reply.add_counts() = std::move(count);
      }
      if (--gather->remaining == 0 && link_) {
        herald::v1::NodeMessage message;
        *message.mutable_presence() = std::move(reply);
        link_->send(std::move(message));
      }
    });
  }
}

// A command for one connection (by client id alone) goes to the one shard that id names;
// one for a user goes to every shard, each finding the user's connections in its index.
template <typename Command, typename Post>
void Node::toShards(const Command& command, const Post& post) {
  if (command.user().empty()) {
    const int shard = clientShard(config_.node_id, command.client());
    if (shard >= 0 && static_cast<size_t>(shard) < shards_.size()) {
      post(*shards_[shard]);
    }
    return;
  }
  for (auto& shard : shards_) {
    post(*shard);
  }
}

void Node::onDisconnect(const herald::v1::DisconnectCommand& command) {
  auto shared = std::make_shared<const herald::v1::DisconnectCommand>(command);
  toShards(command, [&](Shard& shard) { shard.disconnect(shared); });
}

void Node::onJwksKeys() {
  std::lock_guard<std::mutex> lock(settings_mu_);
  if (!last_snapshot_) {
    return;  // the first config builds with them
  }
  // The keys as held now, if they are this snapshot's URL's: a late call from an older fetch
  // (or URL) cannot bring back keys that were dropped since.
  auto settings =
      buildNodeSettings(*last_snapshot_, jwks_.keysFor(last_snapshot_->auth().jwks_url()));
  if (!settings.isOk()) {
    componentLogger("auth")->warn("JWKS keys not applied: {}", settings.status().message());
    return;
  }
  for (auto& shard : shards_) {
    shard->applySettings(settings.value());
  }
}

void Node::onServerCommand(const herald::v1::ControlMessage& command) {
  auto shared = std::make_shared<const herald::v1::ControlMessage>(command);
  auto post = [&](Shard& shard) { shard.serverCommand(shared); };
  if (command.has_subscription()) {
    toShards(command.subscription(), post);
  } else if (command.has_refresh()) {
    toShards(command.refresh(), post);
  }
}

// One channel's joins and leaves from herald-control: framed once here, sent by each shard to
// its subscribers of the channel.
void Node::onJoinLeave(const herald::v1::JoinLeave& change) {
  auto frames = makeJoinLeaveFrames(change);
  if (frames == nullptr) {
    return;
  }
  for (auto& shard : shards_) {
    shard->joinLeave(frames);
  }
}

void Node::shutdown(std::chrono::milliseconds grace) {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  // Tell the control plane first, so it stops routing here while clients are let go.
  draining_ = true;
  if (link_ && !link_->reportStatsNow(std::chrono::seconds(1))) {
    componentLogger("node")->warn("could not tell the control plane this node is draining");
  }
  for (auto& shard : shards_) {
    shard->beginShutdown(1012, "service restart");
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (node_connections_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // What the closes changed (interest, the connections' events with their 1012) goes out
  // before the link does: herald-control hears them closed, not lost with the node.
  if (join_leave_reporter_) {
    join_leave_reporter_->stop();  // sends the closes' leaves
  }
  if (link_) {
    link_->reportStatsNow(std::chrono::seconds(1));
    link_->stop();
  }
  jwks_.stop();   // it applies settings to the shards
  hooks_.stop();  // answers what is queued, while the shards still run
  for (auto& shard : shards_) {
    shard->stop();
  }
}

}  // namespace herald::node
