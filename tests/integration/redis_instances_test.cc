// Redis-backed clusters when Redis itself changes: an outage, a restart that lost the data,
// streams spread over two Redis instances, and config changed through one replica.
#include "integration/redis_cluster_fixture.h"

namespace herald::testing {
namespace {

TEST_F(RedisClusterTest, RedisOutageFailsPublishesFastThenEverythingResumesWithoutAGap) {
  startRedis(true);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  auto on_a = connect(0, "subscribe=feed:outage");
  auto on_b = connect(1, "subscribe=feed:outage");
  ASSERT_TRUE(waitSubscribed("feed:outage", 2, 2));
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
  // Every channel routed to A on its instance (per-channel routing) before publishing.
  ASSERT_TRUE(eventually(
      [&] { return metric(a, "herald_control_redis_subscribed_streams") == kChannels; }, 15s));
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
  ASSERT_TRUE(eventually(
      [&] { return metric(a, "herald_control_redis_subscribed_streams") == kChannels; }, 15s));
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

namespace herald::testing {
namespace {

TEST_F(RedisClusterTest, RedisBackFromAnOlderSnapshotStartsNewEpochsInsteadOfReusingOffsets) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  herald::v1::PublishResponse resp;
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(publish(a, "feed:snap", "{}", &resp).ok());
  }
  // A snapshot now; then 5 more publications that Redis acknowledges but will lose.
  auto saved =
      runCommand("/usr/bin/redis-cli", {"-p", std::to_string(redis_->port()), "SAVE"}, 20s);
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  for (int i = 11; i <= 15; ++i) {
    ASSERT_TRUE(publish(a, "feed:snap", "{}", &resp).ok());
  }
  ASSERT_EQ(resp.offset(), 15u);
  const std::string old_epoch = resp.epoch();
  // B's nodes want nothing of feed:snap, so B hears of these writes only from A's gossip
  // (every 10 ms): the loss below is caught by B as soon as B had heard.
  ASSERT_TRUE(waitWritesSeen(b, 15));
  // Restarted from the snapshot (as with an RDB restore, or an AOF fsynced every second):
  // Redis believes the stream is at 10.
  redis_->stop(SIGKILL);
  redis_->start();
  // Through B, which delivered none of A's publications: still no offset 11 handed out twice.
  ASSERT_TRUE(eventually([&] { return publish(b, "feed:snap", "{}", &resp).ok(); }, 20s));
  EXPECT_NE(resp.epoch(), old_epoch) << "offset " << resp.offset() << " in the old epoch again";
  EXPECT_EQ(resp.offset(), 1u);

  // A client that had offset 15 learns it cannot be recovered, instead of silent duplicates.
  expectNotRecovered(0, "feed:snap", 15, old_epoch, resp.epoch());
}

// The same with the append-only file: Redis restarted from an older AOF (as after a crash
// with appendfsync everysec, or an AOF restored from a backup) has fewer writes than it
// acknowledged. Both replicas learnt the count; the next publication starts a new epoch.
TEST_F(RedisClusterTest, RedisBackFromAnOlderAppendOnlyFileStartsNewEpochs) {
  startRedis(true);  // appendonly yes, fsync always: the copy below holds exactly 10
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[b]);
  herald::v1::PublishResponse resp;
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(publish(a, "feed:aof", "{}", &resp).ok());
  }
  const std::string backup = dir_.path() + "/aof-backup";
  auto copied = runCommand("/bin/cp", {"-a", redis_->dir() + "/appendonlydir", backup}, 20s);
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  for (int i = 11; i <= 15; ++i) {
    ASSERT_TRUE(publish(a, "feed:aof", "{}", &resp).ok());
  }
  const std::string old_epoch = resp.epoch();
  ASSERT_TRUE(waitWritesSeen(b, 15));
  redis_->stop(SIGKILL);
  auto restored = runCommand("/bin/sh",
                             {"-c", "rm -rf '" + redis_->dir() + "/appendonlydir' && cp -a '" +
                                        backup + "' '" + redis_->dir() + "/appendonlydir'"},
                             20s);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  redis_->start();
  // Through B (whose node wanted nothing of feed:aof): no offset 11 handed out a second time.
  ASSERT_TRUE(eventually([&] { return publish(b, "feed:aof", "{}", &resp).ok(); }, 20s));
  EXPECT_NE(resp.epoch(), old_epoch) << "offset " << resp.offset() << " in the old epoch again";
  EXPECT_EQ(resp.offset(), 1u);
  // A client that held offset 12 learns it cannot be recovered: the stream is in a new epoch.
  expectNotRecovered(0, "feed:aof", 12, old_epoch, resp.epoch());
}

}  // namespace
}  // namespace herald::testing
