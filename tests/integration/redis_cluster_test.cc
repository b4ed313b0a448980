// Several herald-control replicas sharing streams through a real redis-server (started here on
// a loopback port), with nodes and WebSocket clients on each replica: delivery, failover and
// recovery across replicas. Outages, config and several instances: redis_instances_test.cc.
#include "integration/redis_cluster_fixture.h"

namespace herald::testing {
namespace {

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
  ASSERT_TRUE(waitSubscribed("feed:all", 300, 2));

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
  ASSERT_TRUE(waitSubscribed("feed:kill", 100, 2));

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
  ASSERT_TRUE(waitSubscribed("feed:cut", 1, 1));
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
  ASSERT_TRUE(waitSubscribed("feed:move", 1, 1));
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

TEST_F(RedisClusterTest, ApiKeysCreatedOrRevokedThroughOneReplicaCountOnEvery) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  // A publisher key made through A...
  herald::v1::CreateApiKeyRequest create;
  create.set_name("billing");
  create.set_role(herald::v1::API_KEY_ROLE_PUBLISHER);
  herald::v1::CreateApiKeyResponse created;
  grpc::ClientContext create_ctx;
  ASSERT_TRUE(stubs_[a]->CreateApiKey(&create_ctx, create, &created).ok());
  const std::string secret = created.secret();
  ASSERT_FALSE(secret.empty());
  const auto publishWith = [&](size_t replica) {
    auto stub = controlStub(replica_addresses_[replica], secret);
    herald::v1::PublishRequest req;
    req.set_channel("feed:keys");
    req.set_data("{}");
    herald::v1::PublishResponse resp;
    grpc::ClientContext ctx;
    return stub->Publish(&ctx, req, &resp).error_code();
  };
  // ...works through B within a second, with its role (no admin calls).
  EXPECT_TRUE(eventually([&] { return publishWith(b) == grpc::StatusCode::OK; }, 2s));
  {
    auto stub = controlStub(replica_addresses_[b], secret);
    herald::v1::CreateApiKeyResponse denied;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub->CreateApiKey(&ctx, create, &denied).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Both replicas list it.
  herald::v1::ListApiKeysResponse listed;
  grpc::ClientContext list_ctx;
  ASSERT_TRUE(stubs_[b]->ListApiKeys(&list_ctx, herald::v1::ListApiKeysRequest(), &listed).ok());
  bool found = false;
  for (const auto& key : listed.keys()) {
    found = found || key.id() == created.key().id();
  }
  EXPECT_TRUE(found);
  // Revoked through B: refused through A within a second.
  herald::v1::RevokeApiKeyRequest revoke;
  revoke.set_id(created.key().id());
  herald::v1::RevokeApiKeyResponse revoked;
  grpc::ClientContext revoke_ctx;
  ASSERT_TRUE(stubs_[b]->RevokeApiKey(&revoke_ctx, revoke, &revoked).ok());
  EXPECT_TRUE(eventually([&] { return publishWith(a) == grpc::StatusCode::UNAUTHENTICATED; }, 2s));
  EXPECT_EQ(publishWith(b), grpc::StatusCode::UNAUTHENTICATED);
  // A replica started later sees the cluster's keys, not only its own file's.
  const size_t c = startReplica();
  EXPECT_EQ(publishWith(c), grpc::StatusCode::UNAUTHENTICATED);
  herald::v1::ListApiKeysResponse on_c;
  grpc::ClientContext c_ctx;
  ASSERT_TRUE(stubs_[c]->ListApiKeys(&c_ctx, herald::v1::ListApiKeysRequest(), &on_c).ok());
  for (const auto& key : on_c.keys()) {
    EXPECT_NE(key.id(), created.key().id()) << "revoked everywhere";
  }
  // Redis loses every key (flushed): the replicas write back what they hold, rather than
  // lock every caller out; the revoked key does not come back.
  auto flushed =
      runCommand("/usr/bin/redis-cli", {"-p", std::to_string(redis_->port()), "FLUSHALL"}, 10s);
  ASSERT_EQ(flushed.exit_code, 0) << flushed.err;
  EXPECT_TRUE(eventually(
      [&] {
        return runCommand("/usr/bin/redis-cli",
                          {"-p", std::to_string(redis_->port()), "HLEN", "herald:keys"}, 10s)
                   .out != "0\n";
      },
      5s));
  herald::v1::ListApiKeysResponse after_flush;
  grpc::ClientContext flush_ctx;
  EXPECT_TRUE(
      stubs_[a]->ListApiKeys(&flush_ctx, herald::v1::ListApiKeysRequest(), &after_flush).ok());
  EXPECT_EQ(publishWith(a), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
// ClusterStats' activity windows are the cluster's: publications through both replicas, the
// deliveries of both replicas' nodes and users on either, each counted once.
TEST_F(RedisClusterTest, StatsWindowsAddUpEveryReplica) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  const size_t on_a = startNode(replica_addresses_[a]);
  const size_t on_b = startNode(replica_addresses_[b]);
  auto first = connect(on_a, "subscribe=stats:w");
  auto second = connect(on_b, "subscribe=stats:w");
  // Each replica lists the subscribers of every replica's nodes.
  ASSERT_TRUE(waitSubscribed("stats:w", 2, 2));
  herald::v1::PublishResponse resp;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(publish(i < 4 ? a : b, "stats:w", "{}", &resp).ok());
  }
  ASSERT_EQ(readOffsets(*first, 6).size(), 6u);
  ASSERT_EQ(readOffsets(*second, 6).size(), 6u);
  // Announcements are once a second and node counters come with heartbeats: wait for both.
  herald::v1::StatsWindow minute;
  google::protobuf::RepeatedPtrField<herald::v1::ChannelSubscribers> top_subscribed;
  const bool added_up = eventually(
      [&] {
        herald::v1::ClusterStatsResponse stats;
        grpc::ClientContext ctx;
        if (!stubs_[b]->ClusterStats(&ctx, herald::v1::ClusterStatsRequest(), &stats).ok()) {
          return false;
        }
        for (const auto& w : stats.windows()) {
          if (w.seconds() == 60) {
            minute = w;
          }
        }
        top_subscribed = stats.top_subscribed_channels();
        return minute.publications() == 6 && minute.deliveries() == 12 &&
               minute.top_channels_size() > 0 && minute.top_channels(0).deliveries() == 12 &&
               top_subscribed.size() == 1 && top_subscribed[0].subscribers() == 2;
      },
      15s);
  EXPECT_TRUE(added_up) << minute.DebugString();
  ASSERT_GE(minute.top_channels_size(), 1);
  EXPECT_EQ(minute.top_channels(0).channel(), "stats:w");
  EXPECT_EQ(minute.top_channels(0).publications(), 6u);
  ASSERT_EQ(minute.namespaces_size(), 1);
  EXPECT_EQ(minute.namespaces(0).namespace_(), "(default)");
  EXPECT_EQ(minute.namespaces(0).deliveries(), 12u) << "each replica's nodes, summed";
  // One subscriber on a node of each replica: the channel's two, from both replicas' nodes.
  ASSERT_EQ(top_subscribed.size(), 1);
  EXPECT_EQ(top_subscribed[0].channel(), "stats:w");
  EXPECT_EQ(top_subscribed[0].subscribers(), 2u);
  EXPECT_EQ(top_subscribed[0].nodes(), 2u);
  // ListNodes stays a listing: the announcement's windows are not in it.
  herald::v1::ListNodesResponse nodes;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stubs_[a]->ListNodes(&ctx, herald::v1::ListNodesRequest(), &nodes).ok());
  for (const auto& replica : nodes.replicas()) {
    EXPECT_EQ(replica.windows_size(), 0);
    EXPECT_EQ(replica.active_user_sketches_size(), 0);
  }
}

// Join / leave frames go through Redis like publications: a connection on a node of one replica
// is announced to subscribers on a node of the other.
TEST_F(RedisClusterTest, JoinAndLeaveReachSubscribersOnAnotherReplicasNode) {
  control_config_["namespaces"].push_back({{"name", "chat"}, {"join_leave", true}});
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  // Reads `ws` until a `type` frame of chat:r lists `client`.
  auto hears = [](WsClient& ws, const std::string& type, const std::string& client) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto f = ws.next(200ms);
      if (f && (*f)["type"] == type && (*f)["channel"] == "chat:r") {
        for (const auto& c : (*f)["clients"]) {
          if (c["client"] == client) {
            return true;
          }
        }
      }
    }
    return false;
  };
  auto alice = std::make_unique<WsClient>("ws://" + node_addresses_[0] + "/ws?subscribe=chat:r");
  ASSERT_TRUE(alice->waitOpen(15s));
  auto alice_hello = alice->nextOfType("connected", 15s);
  ASSERT_TRUE(alice_hello.has_value());
  ASSERT_TRUE(hears(*alice, "join", (*alice_hello)["client"]));
  ASSERT_TRUE(waitSubscribed("chat:r", 1, 1));

  auto bob = std::make_unique<WsClient>("ws://" + node_addresses_[1] + "/ws?subscribe=chat:r");
  ASSERT_TRUE(bob->waitOpen(15s));
  auto bob_hello = bob->nextOfType("connected", 15s);
  ASSERT_TRUE(bob_hello.has_value());
  const std::string bob_id = (*bob_hello)["client"];
  ASSERT_TRUE(hears(*alice, "join", bob_id)) << "bob's join, through replica b and Redis";
  ASSERT_TRUE(hears(*bob, "join", bob_id));
  bob->close();
  ASSERT_TRUE(hears(*alice, "leave", bob_id));

  // A node killed with its connections: its replica says they left ("all"), through Redis.
  auto carol = std::make_unique<WsClient>("ws://" + node_addresses_[1] + "/ws?subscribe=chat:r");
  ASSERT_TRUE(carol->waitOpen(15s));
  auto carol_hello = carol->nextOfType("connected", 15s);
  ASSERT_TRUE(carol_hello.has_value());
  ASSERT_TRUE(hears(*alice, "join", (*carol_hello)["client"]));
  nodes_[1]->stop(SIGKILL, 10s);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool all_left = false;
  while (!all_left && std::chrono::steady_clock::now() < deadline) {
    auto f = alice->next(200ms);
    all_left = f && (*f)["type"] == "leave" && f->value("all", false) &&
               (*f)["channel"] == "chat:r" && (*f)["node"] == (*carol_hello)["node"];
  }
  EXPECT_TRUE(all_left) << "no leave for the killed node's connections";
}

}  // namespace herald::testing
