// Several herald-control replicas sharing streams through a real redis-server (started here on
// a loopback port), with nodes and WebSocket clients on each replica.

#include <gtest/gtest.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

class RedisServer {
 public:
  // `persistent`: append-only file, fsync always, so a restart keeps every stream.
  explicit RedisServer(bool persistent) : port_(freeLoopbackPort()), persistent_(persistent) {
    start();
  }
  ~RedisServer() {
    if (process_) {
      process_->stop(SIGKILL, 10s);
    }
  }

  void start() {
    std::vector<std::string> args = {
        "--port", std::to_string(port_), "--bind",      "127.0.0.1", "--save", "",
        "--dir",  dir_.path(),           "--daemonize", "no"};
    if (persistent_) {
      args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
    } else {
      args.insert(args.end(), {"--appendonly", "no"});
    }
    process_ = std::make_unique<Process>("/usr/bin/redis-server", args);
    if (!process_->waitForOutput("Ready to accept connections", 20s)) {
      throw std::runtime_error("redis-server did not start:\n" + process_->output());
    }
  }
  void stop(int sig) { process_->stop(sig, 15s); }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  TempDir dir_;
  const int port_;
  const bool persistent_;
  std::unique_ptr<Process> process_;
};

json clusterConfig() {
  json config = defaultControlConfig();
  config["namespaces"] =
      json::array({{{"name", "feed"}, {"history_size", 20000}, {"history_ttl_seconds", 600}}});
  // Hundreds of clients connect from 127.0.0.1 at once here.
  config["limits"] = {{"new_connections_per_ip_per_second", 100000}};
  return config;
}

// herald-control replicas and herald-nodes on one Redis, all on loopback.
class RedisClusterTest : public ::testing::Test {
 protected:
  void startRedis(bool persistent) { redis_ = std::make_unique<RedisServer>(persistent); }

  size_t startReplica() { return startReplica(redis_->url()); }

  size_t startReplica(const std::string& redis_urls) {
    const std::string dir = dir_.path() + "/replica" + std::to_string(replicas_.size());
    std::ofstream(dir_.path() + "/control.json") << clusterConfig().dump(2);
    replicas_.push_back(std::make_unique<Process>(
        controlBinary(),
        std::vector<std::string>{"--grpc-listen", "127.0.0.1:0", "--data-dir", dir, "--config",
                                 dir_.path() + "/control.json", "--heartbeat-interval-ms", "200",
                                 "--node-timeout-ms", "1500", "--admin-key", kTestAdminKey,
                                 "--node-secret", kTestNodeSecret, "--engine", "redis", "--redis",
                                 redis_urls}));
    auto address = replicas_.back()->waitListening(30s);
    if (!address) {
      throw std::runtime_error("herald-control did not start:\n" + replicas_.back()->output());
    }
    replica_addresses_.push_back(*address);
    stubs_.push_back(controlStub(*address, kTestAdminKey));
    return replicas_.size() - 1;
  }

  size_t startNode(const std::string& control) {
    nodes_.push_back(std::make_unique<Process>(
        nodeBinary(),
        std::vector<std::string>{"--listen", "127.0.0.1:0", "--control", control, "--shards", "2",
                                 "--node-secret", kTestNodeSecret, "--reconnect-max-ms", "500"}));
    auto address = nodes_.back()->waitListening(30s);
    if (!address) {
      throw std::runtime_error("herald-node did not start:\n" + nodes_.back()->output());
    }
    node_addresses_.push_back(*address);
    // Serving once it has its config.
    EXPECT_TRUE(eventually([&] { return httpGet(*address, "/health").status == 200; }, 20s));
    return nodes_.size() - 1;
  }

  // Subscribers of `channel` on replica `r`'s nodes, as its ListChannels reports them.
  uint32_t subscribers(size_t r, const std::string& channel) {
    herald::v1::ListChannelsRequest req;
    req.set_prefix(channel);
    herald::v1::ListChannelsResponse resp;
    grpc::ClientContext ctx;
    if (!stubs_[r]->ListChannels(&ctx, req, &resp).ok()) {
      return 0;
    }
    for (const auto& c : resp.channels()) {
      if (c.channel() == channel) {
        return static_cast<uint32_t>(c.subscribers());
      }
    }
    return 0;
  }

  grpc::Status publish(size_t r, const std::string& channel, const std::string& data,
                       herald::v1::PublishResponse* resp) {
    herald::v1::PublishRequest req;
    req.set_channel(channel);
    req.set_data(data);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return stubs_[r]->Publish(&ctx, req, resp);
  }

  std::unique_ptr<WsClient> connect(size_t node, const std::string& query) {
    auto ws = std::make_unique<WsClient>("ws://" + node_addresses_[node] + "/ws?" + query);
    EXPECT_TRUE(ws->waitOpen(15s)) << ws->failReason();
    EXPECT_TRUE(ws->nextOfType("connected", 15s).has_value());
    return ws;
  }

  TempDir dir_;
  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<Process>> replicas_;
  std::vector<std::string> replica_addresses_;
  std::vector<std::unique_ptr<herald::v1::Control::Stub>> stubs_;
  std::vector<std::unique_ptr<Process>> nodes_;
  std::vector<std::string> node_addresses_;
};

// The offset of a `message` frame, read without a JSON parse (300 clients x 5,000 frames).
std::optional<uint64_t> messageOffset(const std::string& text) {
  if (text.find("\"type\":\"message\"") == std::string::npos) {
    return std::nullopt;
  }
  const size_t at = text.find("\"offset\":");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  return std::strtoull(text.c_str() + at + 9, nullptr, 10);
}

// Reads until offset `last` or 60 s; returns offsets in arrival order.
std::vector<uint64_t> readOffsets(WsClient& ws, uint64_t last) {
  std::vector<uint64_t> offsets;
  while (offsets.empty() || offsets.back() < last) {
    auto text = ws.nextText(60s);
    if (!text) {
      break;
    }
    if (auto offset = messageOffset(*text)) {
      offsets.push_back(*offset);
    }
  }
  return offsets;
}

TEST_F(RedisClusterTest, TwoReplicasThreeNodes300ClientsGetEveryMessageOnceInOrder) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  startNode(replica_addresses_[a]);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (size_t i = 0; i < 300; ++i) {
    clients.push_back(connect(i % 3, "subscribe=feed:all"));
  }
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:all") == 200; }, 30s));
  ASSERT_TRUE(eventually([&] { return subscribers(b, "feed:all") == 100; }, 30s));

  constexpr uint64_t kMessages = 5000;
  std::string epoch;
  for (uint64_t i = 1; i <= kMessages; ++i) {
    herald::v1::PublishResponse resp;
    // Alternately through both replicas: offsets come from Redis, one sequence for both.
    ASSERT_TRUE(
        publish(i % 2 == 0 ? a : b, "feed:all", "{\"n\":" + std::to_string(i) + "}", &resp).ok());
    ASSERT_EQ(resp.offset(), i);
    if (epoch.empty()) {
      epoch = resp.epoch();
    }
    ASSERT_EQ(resp.epoch(), epoch);
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(contiguous(readOffsets(*clients[i], kMessages), 1, kMessages))
        << "client " << i << " on node " << i % 3;
  }
}

TEST_F(RedisClusterTest, KillNineReplicaWhilePublishingItsNodesFailOverWithoutGapOrDuplicate) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  // Each node knows both replicas and starts on a different one.
  const size_t on_a = startNode(replica_addresses_[a] + "," + replica_addresses_[b]);
  const size_t on_b = startNode(replica_addresses_[b] + "," + replica_addresses_[a]);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (size_t i = 0; i < 100; ++i) {
    clients.push_back(connect(i % 2 == 0 ? on_a : on_b, "subscribe=feed:kill"));
  }
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:kill") == 50; }, 30s));
  ASSERT_TRUE(eventually([&] { return subscribers(b, "feed:kill") == 50; }, 30s));

  constexpr uint64_t kMessages = 2000;
  uint64_t last = 0;
  bool killed = false;
  for (uint64_t i = 1; last < kMessages; ++i) {
    if (i == kMessages / 3) {
      replicas_[a]->signal(SIGKILL);  // mid-stream, no goodbye
      killed = true;
    }
    herald::v1::PublishResponse resp;
    // Alternately through both while A lives; what A cannot take goes through B.
    grpc::Status s = publish(!killed && i % 2 == 0 ? a : b, "feed:kill", "{}", &resp);
    if (!s.ok() && !killed) {
      s = publish(b, "feed:kill", "{}", &resp);
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    last = resp.offset();
  }
  // The dead replica drops out of the cluster view (its entry expires in 3 s).
  ASSERT_TRUE(eventually(
      [&] {
        herald::v1::ClusterStatsResponse stats;
        grpc::ClientContext ctx;
        return stubs_[b]->ClusterStats(&ctx, herald::v1::ClusterStatsRequest(), &stats).ok() &&
               stats.replicas() == 1 && stats.nodes() == 2;
      },
      20s));
  // The node of A moved to B (and still holds its clients).
  ASSERT_TRUE(eventually(
      [&] {
        auto health = json::parse(httpGet(node_addresses_[on_a], "/health").body);
        return health["control_connected"] == true &&
               health["control_address"] == replica_addresses_[b];
      },
      20s));
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(contiguous(readOffsets(*clients[i], last), 1, last))
        << "client " << i << " on the node of replica " << (i % 2 == 0 ? "A" : "B");
  }
}

TEST_F(RedisClusterTest, RecoveriesOnOneReplicaWhileAnotherPublishesGiveNoRepeatOrReorder) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  const size_t on_b = startNode(replica_addresses_[b]);
  herald::v1::PublishResponse resp;
  ASSERT_TRUE(publish(a, "feed:busy", "{}", &resp).ok());
  const std::string epoch = resp.epoch();
  // A steady publisher through A while clients of B's node join with `since` again and again:
  // live publications reach B through its subscription, history through reads.
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    herald::v1::PublishResponse r;
    while (!stop.load()) {
      publish(a, "feed:busy", "{}", &r);
    }
  });
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 20; ++i) {
    auto ws = connect(on_b, "");
    ws->send(json{{"type", "subscribe"},
                  {"id", 1},
                  {"channels", {"feed:busy"}},
                  {"since", {{"feed:busy", {{"offset", 1}, {"epoch", epoch}}}}}}
                 .dump());
    clients.push_back(std::move(ws));
    std::this_thread::sleep_for(20ms);  // spread the joins over the publishing
  }
  stop = true;
  publisher.join();
  ASSERT_TRUE(publish(a, "feed:busy", "{}", &resp).ok());
  const uint64_t last = resp.offset();
  for (size_t i = 0; i < clients.size(); ++i) {
    std::vector<uint64_t> offsets;
    std::optional<json> recovery;
    // The recovery frame may come after `last` (history read once `last` was published).
    while (offsets.empty() || offsets.back() < last || !recovery) {
      auto frame = clients[i]->next(20s);
      ASSERT_TRUE(frame.has_value()) << "client " << i;
      if ((*frame)["type"] == "message") {
        offsets.push_back((*frame)["offset"].get<uint64_t>());
      } else if ((*frame)["type"] == "recovery") {
        recovery = *frame;
      }
    }
    ASSERT_TRUE(recovery.has_value());
    EXPECT_TRUE((*recovery)["recovered"].get<bool>()) << recovery->dump();
    EXPECT_TRUE(contiguous(offsets, 2, last)) << "client " << i;
  }
}

TEST_F(RedisClusterTest, ASubscriptionCutWhileRedisStaysUpLosesNothingForThatReplicasNodes) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  const size_t on_b = startNode(replica_addresses_[b]);
  auto ws = connect(on_b, "subscribe=feed:cut");
  ASSERT_TRUE(eventually([&] { return subscribers(b, "feed:cut") == 1; }, 15s));
  herald::v1::PublishResponse resp;
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(publish(a, "feed:cut", "{}", &resp).ok());
    if (i == 10) {
      // Redis drops every pub/sub connection (as when one outgrows its output buffer).
      auto killed = runCommand(
          "/usr/bin/redis-cli",
          {"-p", std::to_string(redis_->port()), "CLIENT", "KILL", "TYPE", "pubsub"}, 10s);
      ASSERT_EQ(killed.exit_code, 0) << killed.err;
    }
  }
  for (int i = 21; i <= 40; ++i) {
    ASSERT_TRUE(publish(a, "feed:cut", "{}", &resp).ok());
  }
  // Published through A while B's subscription was down: B's node resyncs from history.
  EXPECT_TRUE(contiguous(readOffsets(*ws, 40), 1, 40));
}

TEST_F(RedisClusterTest, ClientMovingToAnotherReplicasNodeRecoversFromRedisHistory) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  const size_t on_a = startNode(replica_addresses_[a]);
  const size_t on_b = startNode(replica_addresses_[b]);
  auto first = connect(on_a, "subscribe=feed:move");
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:move") == 1; }, 15s));
  herald::v1::PublishResponse resp;
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(publish(a, "feed:move", "{}", &resp).ok());
  }
  const std::string epoch = resp.epoch();
  ASSERT_TRUE(contiguous(readOffsets(*first, 10), 1, 10));
  first->close();
  // Published while the client is away, through both replicas.
  for (int i = 11; i <= 40; ++i) {
    ASSERT_TRUE(publish(i % 2 == 0 ? a : b, "feed:move", "{}", &resp).ok());
  }
  auto second = connect(on_b, "");
  second->send(json{{"type", "subscribe"},
                    {"id", 1},
                    {"channels", {"feed:move"}},
                    {"since", {{"feed:move", {{"offset", 10}, {"epoch", epoch}}}}}}
                   .dump());
  std::vector<uint64_t> offsets;
  std::optional<json> recovery;
  while (!recovery) {
    auto frame = second->next(20s);
    ASSERT_TRUE(frame.has_value()) << "no recovery frame";
    if ((*frame)["type"] == "message") {
      offsets.push_back((*frame)["offset"].get<uint64_t>());
    } else if ((*frame)["type"] == "recovery") {
      recovery = *frame;
    }
  }
  EXPECT_TRUE((*recovery)["recovered"].get<bool>()) << recovery->dump();
  EXPECT_EQ((*recovery)["missed"], 30);
  EXPECT_TRUE(contiguous(offsets, 11, 40));
  // Live ones follow on the new node.
  ASSERT_TRUE(publish(a, "feed:move", "{}", &resp).ok());
  EXPECT_TRUE(contiguous(readOffsets(*second, 41), 41, 41));
}

TEST_F(RedisClusterTest, RedisOutageFailsPublishesFastThenEverythingResumesWithoutAGap) {
  startRedis(true);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  auto on_a = connect(0, "subscribe=feed:outage");
  auto on_b = connect(1, "subscribe=feed:outage");
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:outage") == 1; }, 15s));
  ASSERT_TRUE(eventually([&] { return subscribers(b, "feed:outage") == 1; }, 15s));
  herald::v1::PublishResponse resp;
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(publish(i % 2, "feed:outage", "{}", &resp).ok());
  }
  const std::string epoch = resp.epoch();

  redis_->stop(SIGTERM);
  for (int i = 0; i < 10; ++i) {
    const auto started = std::chrono::steady_clock::now();
    grpc::Status s = publish(i % 2, "feed:outage", "{}", &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    // Fails fast instead of hanging until the caller's deadline (10 s here).
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  }
  redis_->start();
  // Publishes succeed again (a replica redials Redis on the next call), offsets continue.
  ASSERT_TRUE(eventually([&] { return publish(a, "feed:outage", "{}", &resp).ok(); }, 20s));
  EXPECT_EQ(resp.offset(), 21u);
  EXPECT_EQ(resp.epoch(), epoch) << "a persistent Redis keeps the epoch";
  for (int i = 22; i <= 40; ++i) {
    ASSERT_TRUE(publish(i % 2, "feed:outage", "{}", &resp).ok());
  }
  // Each client sees 1..40 once and in order: nothing accepted was lost, nothing repeated.
  EXPECT_TRUE(contiguous(readOffsets(*on_a, 40), 1, 40));
  EXPECT_TRUE(contiguous(readOffsets(*on_b, 40), 1, 40));
  for (auto& replica : replicas_) {
    EXPECT_TRUE(replica->running()) << replica->output();
  }
  for (auto& node : nodes_) {
    EXPECT_TRUE(node->running()) << node->output();
  }
}

TEST_F(RedisClusterTest, ConfigChangedThroughOneReplicaReachesTheNodesOfEvery) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  const size_t on_a = startNode(replica_addresses_[a]);
  const size_t on_b = startNode(replica_addresses_[b]);
  // Through B: a namespace whose subscribe rule refuses anonymous clients.
  herald::v1::CreateNamespaceRequest create;
  create.mutable_namespace_()->set_name("members");
  create.mutable_namespace_()->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_AUTHENTICATED);
  herald::v1::CreateNamespaceResponse created;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stubs_[b]->CreateNamespace(&ctx, create, &created).ok());
  const uint64_t version = created.config_version();
  // Replica A serves it, and the node of replica A applies it.
  ASSERT_TRUE(eventually(
      [&] {
        herald::v1::GetNamespaceRequest get;
        get.set_name("members");
        herald::v1::GetNamespaceResponse got;
        grpc::ClientContext get_ctx;
        return stubs_[a]->GetNamespace(&get_ctx, get, &got).ok();
      },
      10s));
  for (size_t node : {on_a, on_b}) {
    ASSERT_TRUE(eventually(
        [&] {
          auto stats = json::parse(httpGet(node_addresses_[node], "/stats").body);
          return stats["config_version"].get<uint64_t>() >= version;
        },
        10s))
        << "node " << node;
  }
  auto ws = connect(on_a, "");
  ws->send(R"({"type":"subscribe","id":1,"channels":["members:x"]})");
  auto answer = ws->nextOfType("error", 10s);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ((*answer)["code"], "permission_denied");
  // Either replica shows the whole cluster: both replicas, both nodes, each with its replica.
  ASSERT_TRUE(eventually(
      [&] {
        herald::v1::ListNodesResponse nodes;
        grpc::ClientContext list_ctx;
        if (!stubs_[b]->ListNodes(&list_ctx, herald::v1::ListNodesRequest(), &nodes).ok() ||
            nodes.replicas_size() != 2 || nodes.nodes_size() != 2) {
          return false;
        }
        std::set<std::string> replicas;
        for (const auto& n : nodes.nodes()) {
          replicas.insert(n.replica());
        }
        return replicas == std::set<std::string>{replica_addresses_[a], replica_addresses_[b]};
      },
      10s));
  // Replicas announce themselves every second: A sees B's nodes within about that.
  herald::v1::ClusterStatsResponse stats;
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext stats_ctx;
        return stubs_[a]
                   ->ClusterStats(&stats_ctx, herald::v1::ClusterStatsRequest(), &stats)
                   .ok() &&
               stats.nodes() == 2 && stats.connections() == 1;  // from the nodes' heartbeats
      },
      10s));
  EXPECT_EQ(stats.replicas(), 2u);
  EXPECT_EQ(stats.healthy_replicas(), 2u);
  // A replica started later takes the cluster's config, not its own file's.
  const size_t c = startReplica();
  herald::v1::GetNamespaceRequest get;
  get.set_name("members");
  herald::v1::GetNamespaceResponse got;
  grpc::ClientContext get_ctx;
  EXPECT_TRUE(stubs_[c]->GetNamespace(&get_ctx, get, &got).ok());
}

TEST_F(RedisClusterTest, ChannelsSpreadOverTwoRedisInstancesAndBothReplicasAgreeWhere) {
  startRedis(false);
  RedisServer second(false);
  const std::string both = redis_->url() + "," + second.url();
  const size_t a = startReplica(both);
  const size_t b = startReplica(both);
  const size_t node = startNode(replica_addresses_[a]);
  constexpr int kChannels = 40;
  std::string subscribe = "subscribe=";
  for (int c = 0; c < kChannels; ++c) {
    subscribe += (c ? "," : "") + std::string("feed:s") + std::to_string(c);
  }
  auto ws = connect(node, subscribe);
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:s39") == 1; }, 15s));
  // Three rounds over every channel, alternating replicas: offsets 1..3 on each channel, so
  // both replicas hashed each channel to the same instance.
  for (int round = 1; round <= 3; ++round) {
    for (int c = 0; c < kChannels; ++c) {
      herald::v1::PublishResponse resp;
      ASSERT_TRUE(
          publish((round + c) % 2 == 0 ? a : b, "feed:s" + std::to_string(c), "{}", &resp).ok());
      ASSERT_EQ(resp.offset(), static_cast<uint64_t>(round)) << "channel feed:s" << c;
    }
  }
  // Both instances hold some of the channels.
  for (int port : {redis_->port(), second.port()}) {
    auto keys =
        runCommand("/usr/bin/redis-cli",
                   {"-p", std::to_string(port), "--scan", "--pattern", "herald:s:feed:s*:m"}, 10s);
    ASSERT_EQ(keys.exit_code, 0) << keys.err;
    const size_t count = std::count(keys.out.begin(), keys.out.end(), '\n');
    EXPECT_GT(count, 5u) << "redis on port " << port << " holds " << count << " channels";
    EXPECT_LT(count, 35u) << "redis on port " << port << " holds " << count << " channels";
  }
  // The client got every publication of every channel once.
  std::map<std::string, std::vector<uint64_t>> seen;
  for (int i = 0; i < 3 * kChannels; ++i) {
    auto frame = ws->nextOfType("message", 20s);
    ASSERT_TRUE(frame.has_value()) << "after " << i << " messages";
    seen[(*frame)["channel"].get<std::string>()].push_back((*frame)["offset"].get<uint64_t>());
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kChannels));
  for (const auto& [channel, offsets] : seen) {
    EXPECT_TRUE(contiguous(offsets, 1, 3)) << channel;
  }
}

TEST_F(RedisClusterTest, PublishBatchOverTwoInstancesKeepsRequestOrderPerChannel) {
  startRedis(false);
  RedisServer second(false);
  const size_t a = startReplica(redis_->url() + "," + second.url());
  const size_t node = startNode(replica_addresses_[a]);
  constexpr int kChannels = 10;
  constexpr int kPerChannel = 100;
  std::string subscribe = "subscribe=";
  for (int c = 0; c < kChannels; ++c) {
    subscribe += (c ? "," : "") + std::string("feed:b") + std::to_string(c);
  }
  auto ws = connect(node, subscribe);
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:b9") == 1; }, 15s));
  herald::v1::PublishBatchRequest batch;
  for (int k = 0; k < kPerChannel; ++k) {
    for (int c = 0; c < kChannels; ++c) {
      auto* p = batch.add_publications();
      p->set_channel("feed:b" + std::to_string(c));
      p->set_data("{\"k\":" + std::to_string(k) + "}");
    }
  }
  // A retried entry with the same idempotency key is not published twice.
  auto* first = batch.add_publications();
  first->set_channel("feed:b0");
  first->set_data("{}");
  first->set_idempotency_key("once");
  *batch.add_publications() = *first;
  herald::v1::PublishBatchResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stubs_[a]->PublishBatch(&ctx, batch, &resp).ok());
  ASSERT_EQ(resp.results_size(), kChannels * kPerChannel + 2);
  for (int i = 0; i < kChannels * kPerChannel; ++i) {
    ASSERT_EQ(resp.results(i).offset(), static_cast<uint64_t>(i / kChannels + 1)) << "entry " << i;
  }
  EXPECT_FALSE(resp.results(kChannels * kPerChannel).duplicate());
  EXPECT_TRUE(resp.results(kChannels * kPerChannel + 1).duplicate());
  EXPECT_EQ(resp.results(kChannels * kPerChannel + 1).offset(), kPerChannel + 1u);
  std::map<std::string, std::vector<uint64_t>> seen;
  for (int i = 0; i < kChannels * kPerChannel + 1; ++i) {
    auto frame = ws->nextOfType("message", 20s);
    ASSERT_TRUE(frame.has_value()) << "after " << i << " messages";
    seen[(*frame)["channel"].get<std::string>()].push_back((*frame)["offset"].get<uint64_t>());
  }
  for (int c = 0; c < kChannels; ++c) {
    const std::string channel = "feed:b" + std::to_string(c);
    EXPECT_TRUE(contiguous(seen[channel], 1, c == 0 ? kPerChannel + 1 : kPerChannel)) << channel;
  }
}

TEST_F(RedisClusterTest, RedisThatLostItsDataGivesANewEpochSoRecoveryIsRefused) {
  startRedis(false);
  const size_t a = startReplica();
  startNode(replica_addresses_[a]);
  herald::v1::PublishResponse resp;
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(publish(a, "feed:lost", "{}", &resp).ok());
  }
  const std::string old_epoch = resp.epoch();
  // A restart without persistence loses every stream.
  redis_->stop(SIGKILL);
  redis_->start();
  ASSERT_TRUE(eventually([&] { return publish(a, "feed:lost", "{}", &resp).ok(); }, 20s));
  EXPECT_EQ(resp.offset(), 1u);
  EXPECT_NE(resp.epoch(), old_epoch);

  auto ws = connect(0, "");
  ws->send(json{{"type", "subscribe"},
                {"id", 1},
                {"channels", {"feed:lost"}},
                {"since", {{"feed:lost", {{"offset", 5}, {"epoch", old_epoch}}}}}}
               .dump());
  auto recovery = ws->nextOfType("recovery", 20s);
  ASSERT_TRUE(recovery.has_value());
  EXPECT_FALSE((*recovery)["recovered"].get<bool>()) << recovery->dump();
  EXPECT_EQ((*recovery)["epoch"], resp.epoch());
  EXPECT_EQ((*recovery)["offset"], 1);
}

}  // namespace
}  // namespace herald::testing
