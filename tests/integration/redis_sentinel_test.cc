// A cluster on Redis Sentinel (`--redis sentinel://HOST:PORT/MASTER`): two redis-servers on
// loopback (a primary and its replica) and a sentinel (Debian's redis-server in sentinel
// mode). The primary is killed with SIGKILL while publications go on: the replica is promoted,
// herald-control follows it, publishing goes on, and every acknowledged publication reaches
// every client exactly once, in order, none lost (a publication is acknowledged once the
// replica has it).
#include <fstream>

#include "integration/redis_cluster_fixture.h"

namespace herald::testing {
namespace {

std::string redisCli(int port, const std::vector<std::string>& args) {
  std::vector<std::string> all = {"-p", std::to_string(port)};
  all.insert(all.end(), args.begin(), args.end());
  return runCommand("/usr/bin/redis-cli", all, 10s).out;
}

std::unique_ptr<Process> redisProcess(int port, const std::vector<std::string>& extra,
                                      const std::string& dir) {
  std::vector<std::string> args = {"--port",       std::to_string(port),
                                   "--bind",       "127.0.0.1",
                                   "--save",       "",
                                   "--appendonly", "no",
                                   "--dir",        dir,
                                   "--daemonize",  "no"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = std::make_unique<Process>("/usr/bin/redis-server", args);
  EXPECT_TRUE(p->waitForOutput("Ready to accept connections", 20s)) << p->output();
  return p;
}

TEST_F(RedisClusterTest, SentinelFailoverUnderLoadLosesNoAcknowledgedPublication) {
  TempDir primary_dir, replica_dir, sentinel_dir;
  const int primary_port = freeLoopbackPort();
  const int replica_port = freeLoopbackPort();
  const int sentinel_port = freeLoopbackPort();
  auto primary = redisProcess(primary_port, {}, primary_dir.path());
  auto replica = redisProcess(
      replica_port, {"--replicaof", "127.0.0.1", std::to_string(primary_port)}, replica_dir.path());
  ASSERT_TRUE(eventually(
      [&] {
        return redisCli(replica_port, {"INFO", "replication"}).find("master_link_status:up") !=
               std::string::npos;
      },
      20s));
  const std::string conf = sentinel_dir.path() + "/sentinel.conf";
  std::ofstream(conf) << "port " << sentinel_port << "\nbind 127.0.0.1\ndaemonize no\n"
                      << "dir " << sentinel_dir.path() << "\n"
                      << "sentinel monitor herald 127.0.0.1 " << primary_port << " 1\n"
                      << "sentinel down-after-milliseconds herald 1000\n"
                      << "sentinel failover-timeout herald 10000\n";
  Process sentinel("/usr/bin/redis-server", {conf, "--sentinel"});
  ASSERT_TRUE(eventually(
      [&] {
        return redisCli(sentinel_port, {"SENTINEL", "get-master-addr-by-name", "herald"})
                       .find(std::to_string(primary_port)) != std::string::npos &&
               redisCli(sentinel_port, {"SENTINEL", "replicas", "herald"})
                       .find(std::to_string(replica_port)) != std::string::npos;
      },
      20s))
      << sentinel.output();

  // The first sentinel listed is down (nothing listens there): every dial moves on to the
  // next one, as with a sentinel lost among three.
  const int dead_sentinel = freeLoopbackPort();
  const size_t a = startReplica("sentinel://127.0.0.1:" + std::to_string(dead_sentinel) +
                                ",127.0.0.1:" + std::to_string(sentinel_port) + "/herald");
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[a]);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (size_t i = 0; i < 20; ++i) {
    clients.push_back(connect(i % 2, "subscribe=feed:sentinel"));
  }
  ASSERT_TRUE(eventually([&] { return subscribers(a, "feed:sentinel") == 20; }, 20s));
  ASSERT_TRUE(
      eventually([&] { return metric(a, "herald_control_redis_subscribed_streams") == 1; }, 20s));

  constexpr int kPublications = 300;
  std::string epoch;
  uint64_t last = 0;
  for (int i = 1; i <= kPublications; ++i) {
    if (i == 100) {
      primary->signal(SIGKILL);  // mid-stream, no goodbye
    }
    // Retried with the same key until acknowledged: a retry of one that got through (on the
    // replica before the kill) answers duplicate with its offset, never publishes twice.
    herald::v1::PublishRequest req;
    req.set_channel("feed:sentinel");
    req.set_data("{\"n\":" + std::to_string(i) + "}");
    req.set_idempotency_key("p" + std::to_string(i));
    herald::v1::PublishResponse resp;
    ASSERT_TRUE(eventually(
        [&] {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + 5s);
          return stubs_[a]->Publish(&ctx, req, &resp).ok();
        },
        40s))
        << "publication " << i << " never acknowledged\n"
        << replicas_[a]->output();
    EXPECT_EQ(resp.offset(), last + 1) << "acknowledged offsets run on, none twice";
    last = resp.offset();
    if (epoch.empty()) {
      epoch = resp.epoch();
    }
    EXPECT_EQ(resp.epoch(), epoch) << "no acknowledged write was lost (a new epoch would say)";
  }
  EXPECT_NE(redisCli(sentinel_port, {"SENTINEL", "get-master-addr-by-name", "herald"})
                .find(std::to_string(replica_port)),
            std::string::npos)
      << "the replica was promoted";
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(contiguous(readOffsets(*clients[i], last), 1, last)) << "client " << i;
  }
}

}  // namespace
}  // namespace herald::testing
