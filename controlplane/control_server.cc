#include "controlplane/control_server.h"

#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/atomic_file.h"
#include "common/config_reader.h"
#include "common/hex.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "common/pem_file.h"
#include "common/secret_file.h"
#include "common/strings.h"
#include "controlplane/api_key_store_impl.h"
#include "controlplane/call_gate.h"
#include "controlplane/config_store_impl.h"
#include "controlplane/events/event_senders.h"
#include "controlplane/memory_stream_engine.h"
#include "controlplane/redis/redis_api_key_store.h"
#include "controlplane/redis/redis_client.h"
#include "controlplane/redis/redis_config_persistence.h"
#include "controlplane/redis/redis_event_log.h"
#include "controlplane/redis/redis_node_handover.h"
#include "controlplane/redis/redis_stream_engine.h"

namespace herald::control {

namespace {

// How this start of herald-control names itself in the cluster's event stream: unique per
// start (a restarted replica's old holds are released once its heartbeats stop), and telling
// an operator which host and process it was.
std::string eventMemberId() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  unsigned char random[4] = {};
  RAND_bytes(random, sizeof(random));
  return std::string(host) + "/" + std::to_string(::getpid()) + "/" + toHex(random, sizeof(random));
}

}  // namespace

ControlServer::ControlServer(ControlConfig config) : config_(std::move(config)) {
  // API keys (and, with the memory engine, the config) live here.
  if (::mkdir(config_.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("data dir " + config_.data_dir + ": " + std::strerror(errno));
  }
  if (config_.engine == "redis") {
    RedisStreamEngine::Options options;
    for (const auto& item : splitRedisList(config_.redis)) {
      options.instances.push_back(parseRedisAddress(item).value());  // validated at start-up
    }
    auto engine =
        std::make_unique<RedisStreamEngine>(options, router_, [this](const std::string& instance) {
          // Publications made while the subscription was down never reached our nodes: make
          // them reconnect, which resyncs their streams from the history in Redis.
          auto sessions = nodes_.live();
          componentLogger("control")->warn(
              "redis {} subscription restored: asking {} node(s) to resync", instance,
              sessions.size());
          for (const auto& session : sessions) {
            session->cancel("redis subscription was lost; reconnect and resync");
          }
        });
    RedisStreamEngine* raw = engine.get();
    redis_engine_ = raw;
    // Per-channel routing: the engine subscribes to what our nodes want, as they report it.
    router_.setInterestListener(raw);
    start_engine_ = [raw] { raw->start(); };
    stop_engine_ = [this, raw] {
      router_.setInterestListener(nullptr);
      raw->stop();
    };
    channels_ = std::move(engine);
  } else {
    channels_ = std::make_unique<MemoryStreamEngine>(router_);
  }
  // With Redis the config (namespaces, limits, auth) is the cluster's, kept on the first
  // Redis listed; the data dir keeps only this replica's API keys.
  ConfigPersistencePtr persistence =
      config_.engine == "redis"
          ? makeRedisPersistence(configRedis(), std::chrono::milliseconds(1000))
          : makeFilePersistence(config_.data_dir);
  const std::string where = persistence->describe();
  auto store =
      std::make_unique<ConfigStoreImpl>(std::move(persistence), config_.namespaces, config_.limits,
                                        config_.auth, config_.heartbeat_interval_ms);
  if (store->loadedExistingState() && config_.file_sets_initial_state) {
    componentLogger("control")->warn(
        "{} already holds a config: the config file's namespaces, limits and auth apply at "
        "first start only and are ignored now (change them with heraldctl or the Control API)",
        where);
  }
  if (config_.engine == "redis") {
    shared_config_ = store.get();
  }
  store->setHooks(config_.hooks, eventsNeedClientReports(config_.events));
  store_ = std::move(store);
  node_secret_ = resolveNodeSecret();
  if (config_.engine == "redis") {
    // Shared by every replica: a key created or revoked through one counts on all.
    keys_ = std::make_unique<RedisApiKeyStore>(configRedis(), std::chrono::milliseconds(1000),
                                               config_.data_dir);
  } else {
    keys_ = std::make_unique<ApiKeyStoreImpl>(config_.data_dir);
  }
  bootstrapAdminKey();
  control_service_ = std::make_unique<ControlService>(*store_, *keys_, *channels_, nodes_, router_,
                                                      presence_, &metrics_);
  link_service_ =
      std::make_unique<NodeLinkService>(*store_, nodes_, router_, users_, *channels_, presence_,
                                        config_.node_queue_limit, nodeAdmission(), &metrics_);
  // With replicas, another one may announce a node that moved to it up to about 2 s late
  // (announced every second): wait for that too before calling a node lost.
  const std::chrono::milliseconds lost_after(config_.node_timeout_ms +
                                             (config_.engine == "redis" ? 2000 : 0));
  lost_nodes_ = std::make_unique<LostNodeLeaves>(*channels_, *store_, lost_after,
                                                 [this] { return nodesOnOtherReplicas(); });
  link_service_->setLostNodeLeaves(lost_nodes_.get());
  if (!config_.events.endpoints.empty()) {
    auto events = EventPublisher::make(config_.events, config_.hooks, makeEventSender);
    if (!events.isOk()) {
      throw ConfigError("events: " + events.status().message());
    }
    events_ = std::move(events.value());
    ClusterPresence::Sink sink = [this](std::vector<PresenceTransition> changes) {
      events_->publish(changes);
    };
    if (config_.engine == "redis") {
      // Several replicas: one stream of events for the cluster, in Redis.
      ClusterEventRelay::Options options;
      options.member = eventMemberId();
      options.queue_limit = config_.events.queue_limit;
      const std::chrono::milliseconds timeout(1000);
      node_handover_ = std::make_unique<RedisNodeHandover>(
          configRedis(), timeout, options.member,
          [this](const std::string& node, const std::string& instance) {
            event_relay_->claimNode(node, instance);
          });
      const RedisAddress redis = configRedis();
      event_relay_ = std::make_unique<ClusterEventRelay>(
          [redis, timeout] { return std::make_unique<RedisEventLog>(redis, timeout); }, *events_,
          options);
      sink = [this](std::vector<PresenceTransition> changes) { event_relay_->push(changes); };
    }
    // A node whose link broke has node_timeout_ms to come back before what it held is gone.
    cluster_presence_ = std::make_unique<ClusterPresence>(
        std::chrono::milliseconds(config_.node_timeout_ms), std::move(sink));
    cluster_presence_->setHandover(node_handover_.get());
    if (event_relay_) {
      event_relay_->setLostListener([this] { cluster_presence_->reannounce(); });
    }
    link_service_->setPresenceEvents(cluster_presence_.get());
    componentLogger("control")->info("events go to {} receiver(s)",
                                     config_.events.endpoints.size());
  }
  store_->setChangeListener([this](const ConfigSnapshotPtr& snapshot) {
    componentLogger("control")->info("config version {}: pushing to {} nodes", snapshot->version(),
                                     nodes_.live().size());
    for (const auto& session : nodes_.live()) {
      session->sendConfig(snapshot);
    }
    link_service_->announceUserLimits(
        users_.setLimit(snapshot->limits().max_connections_per_user()));
  });
}

NodeAdmission ControlServer::nodeAdmission() const { return NodeAdmission(node_secret_); }

// A node secret is always in force unless nodes present client certificates or the operator
// opted out: without one given, the first start generates it in the data directory (0600,
// like admin.key), where a node on this host finds it (--node-secret-file).
std::string ControlServer::resolveNodeSecret() const {
  if (!config_.node_secret.empty()) {
    return config_.node_secret;
  }
  auto log = componentLogger("control");
  if (!config_.tls_client_ca.empty()) {
    log->info("nodes are admitted by client certificate (--tls-client-ca)");
    return "";
  }
  if (config_.allow_unauthenticated_nodes) {
    log->warn(
        "--allow-unauthenticated-nodes and no node secret: any host that reaches this port can "
        "join as a node and receive every secret in the config");
    return "";
  }
  const std::string file = config_.data_dir + "/node.secret";
  auto existing = readSecretFile(file);
  if (existing.isOk()) {
    log->info("node secret: {} (nodes on this host: --node-secret-file {})", file, file);
    return existing.value();
  }
  if (existing.status().code() != ErrorCode::kNotFound) {
    throw std::runtime_error(existing.status().message());
  }
  const std::string secret = randomHex(32);
  if (Status saved = writeFileAtomically(file, secret + "\n"); !saved.isOk()) {
    throw std::runtime_error("cannot write the node secret " + file + ": " + saved.message());
  }
  log->warn("generated a node secret in {} (mode 0600): start nodes with --node-secret-file {}{}",
            file, file,
            config_.engine == "redis" ? "; give every replica the same one (--node-secret)" : "");
  return secret;
}

void ControlServer::bootstrapAdminKey() {
  auto log = componentLogger("control");
  if (!config_.admin_key.empty()) {
    auto imported = keys_->import("admin (from --admin-key)", herald::v1::API_KEY_ROLE_ADMIN,
                                  config_.admin_key);
    if (!imported.isOk() && imported.status().code() == ErrorCode::kPermissionDenied) {
      log->warn("--admin-key was revoked (RevokeApiKey) and stays revoked: remove the flag");
      return;
    }
    if (!imported.isOk() && imported.status().code() != ErrorCode::kAlreadyExists) {
      throw std::runtime_error("admin key: " + imported.status().message());
    }
    return;
  }
  if (keys_->size() > 0) {
    return;
  }
  auto created = keys_->create("first admin", herald::v1::API_KEY_ROLE_ADMIN);
  if (!created.isOk()) {
    throw std::runtime_error("cannot create the first admin key: " + created.status().message());
  }
  const std::string file = config_.data_dir + "/admin.key";
  Status saved = writeFileAtomically(file, created->secret + "\n");
  log->warn(
      "created the first admin API key (shown once; also in {} with mode 0600, delete it "
      "once stored elsewhere): {}",
      saved.isOk() ? file : "<not saved: " + saved.message() + ">", created->secret);
}

ControlServer::~ControlServer() { shutdown(std::chrono::milliseconds(0)); }

std::string ControlServer::start() {
  auto hp = parseHostPort(config_.grpc_listen);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!config_.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions tls(
        config_.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                      : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_key_cert_pairs.push_back(
        {readPemFile(config_.tls_key, "tls_key"), readPemFile(config_.tls_cert, "tls_cert")});
    if (!config_.tls_client_ca.empty()) {
      tls.pem_root_certs = readPemFile(config_.tls_client_ca, "tls_client_ca");
    }
    credentials = grpc::SslServerCredentials(tls);
  }
  // Credentials are checked from the metadata, before a request body is read.
  auto gate = std::make_shared<CallGate>(*keys_, nodeAdmission());
  credentials = gatedCredentials(gate, std::move(credentials));
  builder.AddListeningPort(config_.grpc_listen, credentials, &bound_port);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // gRPC shares ports by default: a second control plane on the same address must fail.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(control_service_.get());
  builder.RegisterService(link_service_.get());
  if (event_relay_) {
    event_relay_->start();  // alive in Redis before any node attaches (and claims its holds)
  }
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    throw std::runtime_error("cannot listen on " + config_.grpc_listen +
                             " (address in use or not local?)");
  }
  const std::string address = hp->host + ":" + std::to_string(bound_port);
  control_service_->setListenAddress(address);
  if (start_engine_) {
    start_engine_();  // its subscriber threads route to nodes: start them with the server
  }
  sweeper_ = std::thread([this] { sweepLoop(); });
  if (shared_config_ != nullptr) {
    replicas_ = std::make_unique<ReplicaDirectory>(configRedis(), std::chrono::milliseconds(1000));
    // Listening on every interface: the others know this replica by host name and port.
    std::string id = address;
    if (hp->host == "0.0.0.0" || hp->host == "::" || hp->host == "[::]" || hp->host.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof(host) - 1);
      id = std::string(host) + ":" + std::to_string(bound_port);
    }
    control_service_->setReplicaDirectory(replicas_.get(), id);
    if (redis_engine_ != nullptr) {
      startPeerServices(id);  // control_server_peers.cc
    }
    replica_id_ = id;
    directory_.store(replicas_.get(), std::memory_order_release);
    config_watcher_ = std::thread([this] { watchConfigLoop(); });
  }
  if (!config_.tls_cert.empty()) {
    componentLogger("control")->info(
        "gRPC over TLS{}", config_.tls_client_ca.empty() ? "" : " with client certificates");
  }
  componentLogger("control")->info("listening on {}", address);
  if (config_.http_listen != "off") {
    ControlHttpServices services;
    services.metrics_text = [this] { return metricsText(); };
    services.health_json = [this] { return healthJson(); };
    // In-process: the HTTP API reaches the same handlers as gRPC callers, TLS or not.
    services.control_channel = server_->InProcessChannel(grpc::ChannelArguments());
    services.keys = keys_.get();
    services.metrics = &metrics_;
    services.tls_cert = config_.tls_cert;
    services.tls_key = config_.tls_key;
    services.tls_client_ca = config_.tls_client_ca;
    http_ = std::make_unique<ControlHttpServer>(std::move(services));
    http_address_ = http_->start(config_.http_listen);
  }
  return address;
}

void ControlServer::sweepLoop() {
  const auto period =
      std::chrono::milliseconds(std::max<uint32_t>(config_.heartbeat_interval_ms / 2, 25));
  int64_t last_expire_ms = 0;
  int64_t last_active_ms = 0;
  std::unique_lock<std::mutex> lock(sweep_mu_);
  while (!sweep_cv_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    const size_t marked = nodes_.sweep(std::chrono::milliseconds(config_.node_timeout_ms));
    if (cluster_presence_) {
      cluster_presence_->sweep(std::chrono::steady_clock::now());
    }
    lost_nodes_->sweep(std::chrono::steady_clock::now());
    // History expiry walks every stream: once a second is enough for TTLs in seconds.
    if (const int64_t now = steadyMillis(); now - last_expire_ms >= 1000) {
      channels_->expire(now);
      last_expire_ms = now;
    }
    // Connected users count as active in each 10 s slot of the stats windows.
    if (const int64_t now = steadyMillis(); now - last_active_ms >= 10000) {
      const int64_t unix_s = unixSeconds();
      users_.forEachConnectedUser(
          [&](const std::string& user) { metrics_.windows().recordActiveUser(user, unix_s); });
      last_active_ms = now;
    }
    const size_t silent = link_service_->cancelSilentStreams(std::chrono::seconds(5));
    if (silent > 0) {
      componentLogger("control")->warn("{} NodeLink stream(s) sent no Hello in 5 s: closed",
                                       silent);
    }
    if (marked > 0) {
      componentLogger("control")->warn("{} node(s) marked unhealthy: no heartbeat in {} ms", marked,
                                       config_.node_timeout_ms);
    }
    lock.lock();
  }
}

std::optional<std::unordered_set<std::string>> ControlServer::nodesOnOtherReplicas() const {
  std::unordered_set<std::string> out;
  ReplicaDirectory* directory = directory_.load(std::memory_order_acquire);
  if (directory == nullptr) {
    return out;  // the only replica
  }
  auto all = directory->all(unixMillis());
  if (!all.isOk()) {
    return std::nullopt;  // cannot tell: decide at a later sweep
  }
  for (const auto& entry : all.value()) {
    if (entry.replicas_size() == 0 || entry.replicas(0).replica_id() == replica_id_ ||
        !entry.replicas(0).healthy()) {
      continue;
    }
    for (const auto& node : entry.nodes()) {
      if (node.health() == herald::v1::NODE_HEALTH_HEALTHY) {
        out.insert(node.node_id());
      }
    }
  }
  return out;
}

RedisAddress ControlServer::configRedis() const {
  // The instance whose address sorts first, so the order of --redis does not matter.
  auto items = splitRedisList(config_.redis);
  std::sort(items.begin(), items.end());
  return parseRedisAddress(items.front()).value();  // validated at start-up
}

void ControlServer::watchConfigLoop() {
  // Another replica's change reaches this replica's nodes within this period plus a push.
  constexpr auto kPeriod = std::chrono::milliseconds(250);
  std::string last_error;
  int tick = 0;
  // Known to the other replicas at once, not a period later.
  (void)replicas_->announce(control_service_->selfEntry());
  std::unique_lock<std::mutex> lock(sweep_mu_);
  while (!sweep_cv_.wait_for(lock, kPeriod, [this] { return stopping_; })) {
    lock.unlock();
    Status s = shared_config_->reloadIfNewer();
    // Once a second: this replica and its nodes, for the others' ListNodes and ClusterStats.
    if (tick++ % 4 == 0) {
      Status announced = replicas_->announce(control_service_->selfEntry());
      if (s.isOk()) {
        s = announced;
      }
    }
    if (!s.isOk() && s.message() != last_error) {
      componentLogger("control")->warn("shared config: {}", s.message());
    }
    last_error = s.isOk() ? "" : s.message();
    lock.lock();
  }
}

void ControlServer::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(sweep_mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (http_) {
    http_->stop();  // before gRPC: its API calls run on the in-process channel
  }
  if (sweeper_.joinable()) {
    sweeper_.join();
  }
  if (config_watcher_.joinable()) {
    config_watcher_.join();
  }
  if (server_) {
    // Shutdown stops accepting calls at once but waits for in-flight ones; NodeLink streams
    // never end by themselves, so keep cancelling them until it returns (cancelling first
    // would let nodes redial into the server before it stops accepting).
    std::atomic<bool> done{false};
    const auto deadline = std::chrono::system_clock::now() + grace;
    std::thread shutdown([&] {
      server_->Shutdown(deadline);
      done = true;
    });
    bool forced = false;
    while (!done) {
      for (const auto& session : nodes_.live()) {
        session->cancel("control plane shutting down");
      }
      link_service_->cancelSilentStreams(std::chrono::milliseconds(0));
      // Once no call is being handled, the rest is idle connections: end it now.
      if (!forced && control_service_->inFlight() == 0) {
        server_->Shutdown(std::chrono::system_clock::now());
        forced = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    shutdown.join();
  }
  if (event_relay_) {
    event_relay_->stop();  // what it could not put into Redis in 2 s is lost
  }
  if (events_) {
    events_->stop();  // what is still queued is lost with this process (docs/hooks.md)
  }
  if (replica_users_) {
    users_.setLocalListener(nullptr);
    replica_users_->stop();
  }
  if (stop_engine_) {
    stop_engine_();
  }
}

void ControlServer::wait() {
  if (server_) {
    server_->Wait();
  }
}

}  // namespace herald::control
