#pragma once
// The Redis cluster tests' fixture: a real redis-server on a loopback port, herald-control
// replicas on it and herald-nodes on each replica, started per test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/ws_client.h"

namespace herald::testing {

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
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  const int port_;
  const bool persistent_;
  std::unique_ptr<Process> process_;
};

inline json clusterConfig() {
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

  // `listen`: its gRPC address (a fixed one to restart a replica where its nodes look).
  size_t startReplica(const std::string& redis_urls, const std::string& listen = "127.0.0.1:0") {
    const std::string dir = dir_.path() + "/replica" + std::to_string(replicas_.size());
    std::ofstream(dir_.path() + "/control.json") << control_config_.dump(2);
    replicas_.push_back(std::make_unique<Process>(
        controlBinary(), std::vector<std::string>{"--grpc-listen",
                                                  listen,
                                                  "--http-listen",
                                                  "127.0.0.1:0",
                                                  "--data-dir",
                                                  dir,
                                                  "--config",
                                                  dir_.path() + "/control.json",
                                                  "--heartbeat-interval-ms",
                                                  "200",
                                                  "--node-timeout-ms",
                                                  "1500",
                                                  "--admin-key",
                                                  kTestAdminKey,
                                                  "--node-secret",
                                                  kTestNodeSecret,
                                                  "--engine",
                                                  "redis",
                                                  "--redis",
                                                  redis_urls}));
    auto address = replicas_.back()->waitListening(30s);
    if (!address) {
      throw std::runtime_error("herald-control did not start:\n" + replicas_.back()->output());
    }
    auto http = replicas_.back()->waitListening(30s, "http on ");
    if (!http) {
      throw std::runtime_error("herald-control has no HTTP port:\n" + replicas_.back()->output());
    }
    replica_addresses_.push_back(*address);
    replica_http_.push_back(*http);
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

  // A sample of replica `r`'s /metrics ("name{labels}" as printed), or -1 when absent.
  double metric(size_t r, const std::string& sample) {
    auto samples = parseSamples(httpGet(replica_http_[r], "/metrics").body);
    auto it = samples.find(sample);
    return it == samples.end() ? -1 : it->second;
  }

  // Replicas Redis routes `channel` to (their SUBSCRIBE confirmed; per-channel routing).
  int routedTo(const std::string& channel) {
    auto out = runCommand(
        "/usr/bin/redis-cli",
        {"-p", std::to_string(redis_->port()), "PUBSUB", "NUMSUB", "herald:p:0:" + channel}, 10s);
    const size_t newline = out.out.find('\n');
    return newline == std::string::npos ? -1 : std::atoi(out.out.c_str() + newline + 1);
  }

  // Waits until every running replica counts `clients` subscribers of `channel` (its own
  // nodes' and the others') and Redis routes it to `replicas` replicas: a publication made
  // after this reaches every one of those clients.
  bool waitSubscribed(const std::string& channel, uint32_t clients, int replicas) {
    return eventually(
        [&] {
          for (size_t r = 0; r < replicas_.size(); ++r) {
            if (replicas_[r]->running() && subscribers(r, channel) != clients) {
              return false;
            }
          }
          return routedTo(channel) == replicas;
        },
        30s);
  }

  // Waits until replica `r` has seen at least `writes` acknowledged writes of the Redis (its
  // own, or another replica's told by gossip).
  bool waitWritesSeen(size_t r, double writes) {
    const std::string seen = "herald_control_redis_writes_seen{redis=\"" + redis_->url() + "\"}";
    return eventually([&] { return metric(r, seen) >= writes; }, 10s);
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

  // A client on `node` that held `offset` of `old_epoch` subscribes with that position: it must
  // learn that it cannot be recovered, in the stream's new epoch `epoch`.
  void expectNotRecovered(size_t node, const std::string& channel, uint64_t offset,
                          const std::string& old_epoch, const std::string& epoch) {
    auto ws = connect(node, "");
    ws->send(json{{"type", "subscribe"},
                  {"id", 1},
                  {"channels", {channel}},
                  {"since", {{channel, {{"offset", offset}, {"epoch", old_epoch}}}}}}
                 .dump());
    auto recovery = ws->nextOfType("recovery", 20s);
    ASSERT_TRUE(recovery.has_value());
    EXPECT_FALSE((*recovery)["recovered"].get<bool>()) << recovery->dump();
    EXPECT_EQ((*recovery)["epoch"], epoch);
  }

  std::unique_ptr<WsClient> connect(size_t node, const std::string& query) {
    auto ws = std::make_unique<WsClient>("ws://" + node_addresses_[node] + "/ws?" + query);
    EXPECT_TRUE(ws->waitOpen(15s)) << ws->failReason();
    EXPECT_TRUE(ws->nextOfType("connected", 15s).has_value());
    return ws;
  }

  TempDir dir_;
  json control_config_ = clusterConfig();  // every replica's config file
  std::unique_ptr<RedisServer> redis_;
  std::vector<std::unique_ptr<Process>> replicas_;
  std::vector<std::string> replica_addresses_;
  std::vector<std::string> replica_http_;
  std::vector<std::unique_ptr<herald::v1::Control::Stub>> stubs_;
  std::vector<std::unique_ptr<Process>> nodes_;
  std::vector<std::string> node_addresses_;
};

// The offset of a `message` frame, read without a JSON parse (300 clients x 5,000 frames).
inline std::optional<uint64_t> messageOffset(const std::string& text) {
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
inline std::vector<uint64_t> readOffsets(WsClient& ws, uint64_t last) {
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

}  // namespace herald::testing
