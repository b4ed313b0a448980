// What replicas share without storing it in Redis: presence and subscriber counts asked of
// every replica's nodes, the per-user connection limit across replicas, and per-channel
// routing (a replica receives only what its nodes want). Real redis-server, replicas, nodes
// and WebSocket clients on loopback.
#include "integration/redis_cluster_fixture.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

// Presence and subscriber counts are the cluster's, whichever replica is asked: B lists A's
// clients, and a killed node's clients vanish (no ghost entries).
TEST_F(RedisClusterTest, PresenceThroughEitherReplicaListsEveryReplicasClients) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (const std::string sub : {"alice", "bob"}) {
    const std::string token = signToken("HS256", kTestJwtSecret, {{"sub", sub}}, "test");
    clients.push_back(connect(0, "subscribe=feed:room&token=" + token));
  }
  clients.push_back(connect(1, "subscribe=feed:room"));  // anonymous, on B's node
  auto presence = [&](size_t r) {
    herald::v1::PresenceRequest req;
    req.set_channel("feed:room");
    herald::v1::PresenceResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stubs_[r]->Presence(&ctx, req, &resp).ok());
    return resp;
  };
  for (size_t r : {a, b}) {
    ASSERT_TRUE(eventually([&] { return presence(r).connections() == 3; }, 15s))
        << "through replica " << r << ": " << presence(r).DebugString();
    auto resp = presence(r);
    EXPECT_EQ(resp.users(), 2u);  // alice and bob; the anonymous client has no user
    EXPECT_EQ(resp.nodes_unanswered(), 0u);
    std::set<std::string> users;
    for (const auto& entry : resp.entries()) {
      users.insert(entry.user());
    }
    EXPECT_EQ(users, (std::set<std::string>{"", "alice", "bob"}));
    ASSERT_TRUE(eventually([&] { return subscribers(r, "feed:room") == 3; }, 15s));
  }
  // A's node dies with alice and bob: through B (and A), only B's client is left.
  nodes_[0]->stop(SIGKILL, 10s);
  for (size_t r : {b, a}) {
    ASSERT_TRUE(eventually([&] { return presence(r).connections() == 1; }, 15s))
        << "ghost entries through replica " << r << ": " << presence(r).DebugString();
    EXPECT_TRUE(eventually([&] { return subscribers(r, "feed:room") == 1; }, 15s));
  }
  // Replica A killed: B answers alone, with its own client, promptly.
  replicas_[a]->stop(SIGKILL, 10s);
  const auto started = std::chrono::steady_clock::now();
  auto resp = presence(b);
  EXPECT_EQ(resp.connections(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "waited past the presence timeout";
}

// Per-channel routing: a replica whose nodes want nothing of a channel receives none of its
// publications from Redis; one whose node wants it receives each once.
TEST_F(RedisClusterTest, AReplicaReceivesOnlyTheChannelsItsNodesWant) {
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  auto ws = connect(0, "subscribe=feed:only-a");
  ASSERT_TRUE(waitSubscribed("feed:only-a", 1, 1));
  const std::string bytes = "herald_control_redis_pubsub_received_bytes_total";
  ASSERT_TRUE(eventually([&] { return metric(b, bytes) >= 0 && metric(a, bytes) >= 0; }, 10s));
  const double a_before = metric(a, bytes);
  const double b_before = metric(b, bytes);
  const std::string payload = "\"" + std::string(1000, 'x') + "\"";
  herald::v1::PublishResponse resp;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(publish(b, "feed:only-a", payload, &resp).ok());
  }
  auto offsets = readOffsets(*ws, 100);
  ASSERT_EQ(offsets.size(), 100u);
  EXPECT_EQ(offsets.back(), 100u);
  const double published = 100 * 1000;
  ASSERT_TRUE(eventually([&] { return metric(a, bytes) - a_before >= published; }, 10s))
      << "A received " << metric(a, bytes) - a_before << " bytes";
  // B published them but delivers none: what it received is the others' write counts and
  // its own markers, a few bytes each, not the payloads.
  EXPECT_LT(metric(b, bytes) - b_before, published / 10)
      << "B received the publications of a channel none of its nodes wants";
  EXPECT_GE(metric(a, "herald_control_redis_subscribed_streams"), 1);
  // The last subscriber leaves: A unsubscribes (2 s later), and Redis routes it nowhere.
  ws->close();
  EXPECT_TRUE(eventually([&] { return routedTo("feed:only-a") == 0; }, 15s));
  EXPECT_EQ(metric(a, "herald_control_redis_subscribed_streams"), 0);
}

// max_connections_per_user counts every replica's connections: alice at the limit through A's
// node and B's node is refused on either; when a replica dies, its connections stop counting.
TEST_F(RedisClusterTest, ConnectionsPerUserAreLimitedAcrossReplicas) {
  control_config_["limits"]["max_connections_per_user"] = 2;
  startRedis(false);
  const size_t a = startReplica();
  const size_t b = startReplica();
  startNode(replica_addresses_[a]);
  startNode(replica_addresses_[b]);
  const std::string alice =
      "token=" + signToken("HS256", kTestJwtSecret, {{"sub", "alice"}}, "test");
  auto first = connect(0, alice);
  auto second = connect(1, alice);
  // Connects to `node` as alice: "connected", or the refusal's error code.
  auto attempt = [&](size_t node) -> std::string {
    WsClient ws("ws://" + node_addresses_[node] + "/ws?" + alice);
    if (!ws.waitOpen(10s)) {
      return "no open";
    }
    auto frame = ws.next(10s);
    if (!frame) {
      return "nothing";
    }
    if ((*frame)["type"] == "error") {
      const std::string code = (*frame)["code"];
      return code + "/" + std::to_string(ws.waitClosed(10s).value_or(0));
    }
    return (*frame)["type"];
  };
  // The counts travel between replicas within about 20 ms; the block then reaches the nodes.
  for (size_t node : {size_t{0}, size_t{1}}) {
    std::string last;
    EXPECT_TRUE(eventually(
        [&] {
          last = attempt(node);
          return last == "limit_exceeded/4030";
        },
        15s))
        << "a third connection on node " << node << ": " << last;
  }
  // One closes on B's node: alice may connect on A's (A learns it from B), and holds two
  // connections there.
  second->close();
  std::unique_ptr<WsClient> third;
  ASSERT_TRUE(eventually(
      [&] {
        third = std::make_unique<WsClient>("ws://" + node_addresses_[0] + "/ws?" + alice);
        auto frame = third->waitOpen(10s) ? third->next(10s) : std::nullopt;
        return frame && (*frame)["type"] == "connected";
      },
      15s));
  EXPECT_TRUE(eventually([&] { return attempt(1) == "limit_exceeded/4030"; }, 15s))
      << "B must count A's two";
  // Replica A dies with its node: B forgets A's counts once A is no longer announced (about
  // 2 s), so alice is not locked out by a ghost.
  nodes_[0]->stop(SIGKILL, 10s);
  replicas_[a]->stop(SIGKILL, 10s);
  EXPECT_TRUE(eventually([&] { return attempt(1) == "connected"; }, 15s));
}

}  // namespace
}  // namespace herald::testing
