#include "dataplane/node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/host_port.h"
#include "common/logging.h"
#include "common/pem_file.h"
#include "common/version.h"
#include "dataplane/http/web_assets.h"
#include "dataplane/link/request_id.h"

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
    ctx.services.node_connections = &node_connections_;
    ctx.services.ip_limiter = &ip_limiter_;
    ctx.services.blocked_users = &blocked_users_;
    ctx.services.subscribers = &channel_subscribers_;
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
  NodeLinkCallbacks callbacks;
  callbacks.apply_config = [this](const herald::v1::ConfigSnapshot& s) { return applyConfig(s); };
  callbacks.deliver = [this](const herald::v1::Deliver& d) { deliver(d); };
  callbacks.disconnect = [this](const herald::v1::DisconnectCommand& c) { disconnect(c); };
  callbacks.stats = [this] { return stats(); };
  callbacks.user_limit = [this](const herald::v1::UserLimit& l) {
    blocked_users_.set(l.user(), l.blocked());
  };
  resync_ =
      std::make_unique<LinkResync>([](const herald::v1::Deliver& d) { return makeDelivery(d); },
                                   [this](const DeliveryPtr& d) { dispatch(d); },
                                   [this](const herald::v1::RecoverRequest& request) {
                                     herald::v1::NodeMessage message;
                                     *message.mutable_recover() = request;
                                     return link_->send(std::move(message), /*first=*/true);
                                   });
  callbacks.hello_sent = [this](const herald::v1::Hello& hello) {
    resync_->sessionStarted({hello.channels().begin(), hello.channels().end()},
                            {hello.users().begin(), hello.users().end()});
  };
  callbacks.recovered = [this](const herald::v1::RecoverResponse& page) {
    if (LinkResync::ownsRequest(page.request_id())) {
      resync_->page(page);
      return;
    }
    const uint64_t shard = shardOfRequest(page.request_id());
    if (shard < shards_.size()) {
      shards_[shard]->recovered(std::make_shared<const herald::v1::RecoverResponse>(page));
    }
  };
  callbacks.published = [this](const herald::v1::ClientPublishResult& result) {
    const uint64_t shard = shardOfRequest(result.request_id());
    if (shard < shards_.size()) {
      shards_[shard]->published(std::make_shared<const herald::v1::ClientPublishResult>(result));
    }
  };
  callbacks.presence_query = [this](const herald::v1::PresenceQuery& q) { presence(q); };
  callbacks.session_started = [this] {
    blocked_users_.clear();
    // A restarted control plane may count versions anew (e.g. a wiped state file).
    session_config_high_water_ = 0;
  };
  link_ = std::make_unique<NodeLinkClient>(options, interest_, callbacks);
  // Shards answer /health and /stats, which read link_: start them once it exists.
  for (auto& shard : shards_) {
    shard->start();
  }
  link_->start();
  componentLogger("node")->info("node {} with {} shards; control plane {}", config_.node_id,
                                shard_count, config_.control);
  componentLogger("node")->info("listening on {}", address_);
  return address_;
}

Status Node::applyConfig(const herald::v1::ConfigSnapshot& snapshot) {
  if (snapshot.version() < session_config_high_water_) {
    return Status::ok();  // older than what this session applied: ack, keep the newer one
  }
  auto settings = buildNodeSettings(snapshot);
  if (!settings.isOk()) {
    return settings.status();
  }
  if (snapshot.version() != config_version_.load()) {
    componentLogger("node")->info("applying config version {}", snapshot.version());
  }
  config_version_ = snapshot.version();
  session_config_high_water_ = snapshot.version();
  for (auto& shard : shards_) {
    shard->applySettings(settings.value());
  }
  return Status::ok();
}

void Node::deliver(const herald::v1::Deliver& deliver) { resync_->deliver(deliver); }

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

uint64_t Node::backpressureWaits() const {
  uint64_t total = 0;
  for (const auto& shard : shards_) {
    total += shard->backpressureWaits();
  }
  return total;
}

void Node::dispatch(const DeliveryPtr& delivery) {
  for (auto& shard : shards_) {
    shard->deliver(delivery);
  }
}

void Node::presence(const herald::v1::PresenceQuery& query) {
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

void Node::disconnect(const herald::v1::DisconnectCommand& command) {
  auto shared = std::make_shared<const herald::v1::DisconnectCommand>(command);
  for (auto& shard : shards_) {
    shard->disconnect(shared);
  }
}

namespace {

using ShardCounter = std::atomic<uint64_t> ShardCounters::*;

// /stats fields that are a sum over shards, beside those of NodeStats. A new counter in
// ShardCounters needs one line here.
constexpr std::pair<const char*, ShardCounter> kSummedCounters[] = {
    {"connections_total", &ShardCounters::connections_total},
    {"connections_refused", &ShardCounters::connections_refused},
    {"protocol_errors", &ShardCounters::protocol_errors},
    {"slow_consumers_closed", &ShardCounters::slow_consumers_closed},
    {"auth_failures", &ShardCounters::auth_failures},
    {"tokens_expired", &ShardCounters::tokens_expired},
    {"rate_limited", &ShardCounters::rate_limited},
    {"refused_origin", &ShardCounters::refused_origin},
    {"refused_ip_rate", &ShardCounters::refused_ip_rate},
    {"refused_user_limit", &ShardCounters::refused_user_limit},
    {"subscribe_denied", &ShardCounters::subscribe_denied},
    {"subscribe_over_limit", &ShardCounters::subscribe_over_limit},
    {"ping_timeouts", &ShardCounters::ping_timeouts},
    {"messages_dropped", &ShardCounters::messages_dropped},
    {"backlogged_connections", &ShardCounters::backlogged_connections},
    {"outbound_queued_bytes", &ShardCounters::outbound_queued_bytes},
    {"recoveries", &ShardCounters::recoveries},
    {"recoveries_failed", &ShardCounters::recoveries_failed},
    {"messages_recovered", &ShardCounters::messages_recovered},
    {"client_publishes", &ShardCounters::client_publishes},
    {"frames_too_large", &ShardCounters::frames_too_large},
    {"invalid_utf8", &ShardCounters::invalid_utf8},
    {"protocol_violations", &ShardCounters::protocol_violations},
    {"handshake_timeouts", &ShardCounters::handshake_timeouts},
    {"auth_timeouts", &ShardCounters::auth_timeouts},
    {"publish_denied", &ShardCounters::publish_denied},
    {"publish_failed", &ShardCounters::publish_failed},
    {"json_too_deep", &ShardCounters::json_too_deep},
    {"tokens_too_long", &ShardCounters::tokens_too_long},
    {"pongs_withheld", &ShardCounters::pongs_withheld},
};

}  // namespace

uint64_t Node::sumOverShards(std::atomic<uint64_t> ShardCounters::*counter) const {
  uint64_t total = 0;
  for (const auto& shard : shards_) {
    total += (shard->counters().*counter).load(std::memory_order_relaxed);
  }
  return total;
}

herald::v1::NodeStats Node::stats() const {
  herald::v1::NodeStats s;
  s.set_connections(sumOverShards(&ShardCounters::connections));
  s.set_subscriptions(sumOverShards(&ShardCounters::subscriptions));
  s.set_messages_in(sumOverShards(&ShardCounters::messages_in));
  s.set_messages_out(sumOverShards(&ShardCounters::messages_out));
  s.set_users(interest_.users());
  s.set_channels(interest_.channels());
  s.set_draining(draining_.load());
  return s;
}

std::string Node::statsJson() const {
  const auto s = stats();
  nlohmann::json j = {
      {"node", config_.node_id},
      {"version", kVersion},
      {"shards", shards_.size()},
      {"connections", s.connections()},
      {"users", s.users()},
      {"subscriptions", s.subscriptions()},
      {"channels", s.channels()},
      {"messages_in", s.messages_in()},
      {"messages_out", s.messages_out()},
      {"control_connected", link_ && link_->connected()},
      {"control_address", link_ ? link_->controlAddress() : std::string()},
      {"config_version", config_version_.load()},
      {"resync_dropped", resync_ ? resync_->dropped() : 0},
      {"delivery_backpressure_waits", backpressureWaits()},
  };
  for (const auto& [name, counter] : kSummedCounters) {
    j[name] = sumOverShards(counter);
  }
  return j.dump();
}

// The node's HTTP routes on the client port; handlers run on shard threads.
void Node::addHttpRoutes() {
  routes_.add("/health", [this] { return health(); });
  routes_.add("/stats", [this] { return HttpResponse{200, "application/json", statsJson()}; });
  for (const WebAsset* asset : webAssets()) {
    routes_.add(std::string(asset->path), [asset] {
      return HttpResponse{200, std::string(asset->content_type), std::string(asset->body)};
    });
  }
}

HttpResponse Node::health() const {
  // Load balancers should not send clients to a node that refuses them for lack of config.
  const bool configured = config_version_.load() > 0;
  nlohmann::json j = {{"status", configured ? "ok" : "starting"},
                      {"node", config_.node_id},
                      {"control_connected", link_ && link_->connected()},
                      {"control_address", link_ ? link_->controlAddress() : std::string()}};
  return HttpResponse{configured ? 200 : 503, "application/json", j.dump()};
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
  if (link_) {
    link_->stop();
  }
  for (auto& shard : shards_) {
    shard->stop();
  }
}

}  // namespace herald::node
