// Events with several replicas on Redis (docs/hooks.md "Events with several replicas"): one
// stream for the cluster, so a user online through two replicas is one user.online, each event
// reaches the receiver once, and losing a replica (with or without its nodes) or the replica
// that delivers neither loses events nor makes ghosts or duplicates.
#include <gtest/gtest.h>

#include "integration/redis_cluster_fixture.h"
#include "integration/support/event_receiver.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

std::string token(const std::string& user) {
  return signToken("HS256", kTestJwtSecret, {{"sub", user}, {"exp", nowSeconds() + 3600}}, "test");
}

class RedisEventsTest : public RedisClusterTest {
 protected:
  void SetUp() override {
    control_config_["hooks"] = {
        {"endpoints", {{{"name", "app"}, {"url", receiver_.url()}, {"timeout_ms", 2000}}}}};
    control_config_["events"] = {{"endpoints", {"app"}}};
    startRedis(false);
  }

  std::unique_ptr<WsClient> join(size_t node, const std::string& user, const std::string& channel) {
    return connect(node, "token=" + token(user) + "&subscribe=" + channel);
  }

  // The client.connected events for `user`: one per connection its node reported.
  size_t connectedEvents(const std::string& user) {
    size_t n = 0;
    for (const auto& e : receiver_.uniqueEvents()) {
      n += e["type"] == "client.connected" && e.value("user", "") == user;
    }
    return n;
  }

  // "type subject" of the user and channel events only, in order.
  std::vector<std::string> transitions() {
    std::vector<std::string> out;
    for (const auto& s : receiver_.uniqueSeen()) {
      if (s.rfind("user.", 0) == 0 || s.rfind("channel.", 0) == 0) {
        out.push_back(s);
      }
    }
    return out;
  }

  // An event may come twice (a replica killed before it recorded what the receiver took),
  // but an id always names the same event, so de-duplicating by id is enough.
  void expectUniqueIds() {
    std::map<std::string, json> by_id;
    for (const auto& e : receiver_.events()) {
      auto [it, fresh] = by_id.emplace(e["id"].get<std::string>(), e);
      EXPECT_TRUE(fresh || it->second == e) << "one id, two events: " << e.dump();
    }
  }

  EventReceiver receiver_;
};

TEST_F(RedisEventsTest, AUserOnTwoReplicasIsOnlineOnceForTheCluster) {
  startReplica();
  startReplica();
  startNode(replica_addresses_[0]);
  startNode(replica_addresses_[1]);
  auto first = join(0, "alice", "chat:1");
  ASSERT_TRUE(receiver_.waitFor("user.online alice", 15s));
  auto second = join(1, "alice", "chat:1");
  // Both connections reported (each node reports its connection with its user).
  ASSERT_TRUE(eventually([&] { return connectedEvents("alice") == 2; }, 15s));
  first->close();
  ASSERT_TRUE(first->waitClosed(10s).has_value());
  ASSERT_TRUE(eventually(
      [&] {
        size_t closed = 0;
        for (const auto& e : receiver_.uniqueEvents()) {
          closed += e["type"] == "client.disconnected";
        }
        return closed == 1;
      },
      15s));
  second->close();
  ASSERT_TRUE(receiver_.waitFor("user.offline alice", 15s));
  ASSERT_TRUE(receiver_.waitFor("channel.vacated chat:1", 15s));
  EXPECT_EQ(transitions(),
            (std::vector<std::string>{"user.online alice", "channel.occupied chat:1",
                                      "channel.vacated chat:1", "user.offline alice"}))
      << "once per cluster transition, though two replicas each saw alice come and go";
  expectUniqueIds();
  size_t connected = 0;
  size_t disconnected = 0;
  for (const auto& e : receiver_.uniqueEvents()) {
    connected += e["type"] == "client.connected";
    disconnected += e["type"] == "client.disconnected";
  }
  EXPECT_EQ(connected, 2u);
  EXPECT_EQ(disconnected, 2u);
}

TEST_F(RedisEventsTest, AReplicaKilledWithItsNodeLeavesNoGhosts) {
  startReplica();
  startReplica();
  startNode(replica_addresses_[0]);  // knows only replica 0: dies with it, in effect
  startNode(replica_addresses_[1]);
  auto bob = join(0, "bob", "room:b");
  auto carol = join(1, "carol", "room:c");
  ASSERT_TRUE(receiver_.waitFor("user.online bob", 15s));
  ASSERT_TRUE(receiver_.waitFor("user.online carol", 15s));
  const auto killed_at = std::chrono::steady_clock::now();
  replicas_[0]->stop(SIGKILL, 10s);
  nodes_[0]->stop(SIGKILL, 10s);
  // The replica's heartbeat to Redis ends: 3 s later another releases what it held.
  ASSERT_TRUE(receiver_.waitFor("user.offline bob", 20s));
  ASSERT_TRUE(receiver_.waitFor("channel.vacated room:b", 20s));
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 15s);
  for (const auto& e : receiver_.events()) {
    if (e["type"] == "user.offline") {
      EXPECT_NE(e["reason"].get<std::string>().find("stopped"), std::string::npos) << e.dump();
    }
  }
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(receiver_.uniqueCount("user.offline bob"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("client.disconnected bob"), 1u) << "bob's connection ended too";
  const auto seen = receiver_.uniqueSeen();
  EXPECT_LT(std::find(seen.begin(), seen.end(), "client.disconnected bob"),
            std::find(seen.begin(), seen.end(), "user.offline bob"));
  for (const auto& e : receiver_.events()) {
    if (e["type"] == "client.disconnected") {
      EXPECT_EQ(e["code"], 1006) << e.dump();
    }
  }
  EXPECT_EQ(receiver_.uniqueCount("user.offline carol"), 0u) << "carol is still connected";
  carol->close();
  ASSERT_TRUE(receiver_.waitFor("user.offline carol", 15s));
  expectUniqueIds();
}

TEST_F(RedisEventsTest, ANodeThatFailsOverToAnotherReplicaReportsNothingTwice) {
  startReplica();
  startReplica();
  startNode(replica_addresses_[0] + "," + replica_addresses_[1]);
  auto dave = join(0, "dave", "room:d");
  auto erin = join(0, "erin", "room:d");
  ASSERT_TRUE(receiver_.waitFor("user.online dave", 15s));
  ASSERT_TRUE(receiver_.waitFor("channel.occupied room:d", 15s));
  ASSERT_TRUE(receiver_.waitFor("client.connected erin", 15s));
  replicas_[0]->stop(SIGKILL, 10s);
  // Erin leaves while the node moves: reported by whichever replica hears of it, once.
  erin->close();
  // The node joins replica 1 within a second; replica 0's holds are released 3 s after its
  // death, by then replica 1 holds dave too.
  ASSERT_TRUE(eventually(
      [&] {
        herald::v1::ListNodesRequest req;
        herald::v1::ListNodesResponse resp;
        grpc::ClientContext ctx;
        return stubs_[1]->ListNodes(&ctx, req, &resp).ok() && resp.nodes_size() == 1 &&
               resp.nodes(0).replica() == replica_addresses_[1];
      },
      15s));
  // Erin's close is reported (by the replica the node joined, or by replica 0's release).
  ASSERT_TRUE(receiver_.waitFor("client.disconnected erin", 20s));
  ASSERT_TRUE(receiver_.waitFor("user.offline erin", 20s));
  // Past replica 0's release (3 s after its death, then a sweep round): dave was kept.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(receiver_.uniqueCount("user.offline dave"), 0u) << "dave never left";
  EXPECT_EQ(receiver_.uniqueCount("user.online dave"), 1u) << "nor came again";
  EXPECT_EQ(receiver_.uniqueCount("channel.vacated room:d"), 0u);
  EXPECT_EQ(receiver_.uniqueCount("client.connected dave"), 1u)
      << "the new replica took dave over: " << json(receiver_.events()).dump();
  EXPECT_EQ(receiver_.uniqueCount("client.disconnected dave"), 0u);
  EXPECT_EQ(receiver_.uniqueCount("client.connected erin"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("client.disconnected erin"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("user.offline erin"), 1u);
  dave->close();
  ASSERT_TRUE(receiver_.waitFor("user.offline dave", 15s));
  ASSERT_TRUE(receiver_.waitFor("channel.vacated room:d", 15s));
  EXPECT_EQ(receiver_.uniqueCount("user.offline dave"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("client.disconnected dave"), 1u);
  expectUniqueIds();
}

TEST_F(RedisEventsTest, EventsWaitInRedisWhileTheReceiverIsDownAndTheDeliveringReplicaDies) {
  startReplica();
  startNode(replica_addresses_[0]);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 3; ++i) {
    const std::string user = "u" + std::to_string(i);
    clients.push_back(join(0, user, "room:" + user));
    // Reported before it leaves: a connection that comes and goes within one report of its
    // node makes no online/offline pair.
    ASSERT_TRUE(receiver_.waitFor("client.connected " + user, 15s));
  }
  receiver_.setDown(true);
  for (auto& ws : clients) {
    ws->close();
  }
  // The events exist (the delivering replica read them from Redis) and are refused.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(receiver_.waitRefused("user.offline u" + std::to_string(i), 30s));
  }
  const size_t before = receiver_.events().size();
  // Replica 0 dies with them undelivered; replica 1, started afterwards, takes the lease and
  // delivers what waited in Redis once the receiver is back.
  replicas_[0]->stop(SIGKILL, 10s);
  startReplica();
  receiver_.setDown(false);
  for (int i = 0; i < 3; ++i) {
    const std::string user = "u" + std::to_string(i);
    EXPECT_TRUE(receiver_.waitFor("user.offline " + user, 30s)) << user;
    EXPECT_TRUE(receiver_.waitFor("channel.vacated room:" + user, 30s)) << user;
    EXPECT_EQ(receiver_.uniqueCount("user.online " + user), 1u);
  }
  const auto events = receiver_.events();
  std::vector<std::string> after;
  for (size_t i = before; i < events.size(); ++i) {
    after.push_back(events[i]["type"].get<std::string>() + " " +
                    events[i].value("user", events[i].value("channel", std::string())));
  }
  for (int i = 0; i < 3; ++i) {
    const std::string user = "u" + std::to_string(i);
    auto at = [&](const std::string& what) {
      return std::find(after.begin(), after.end(), what) - after.begin();
    };
    EXPECT_LT(at("client.disconnected " + user), at("user.offline " + user))
        << "in the order they happened: " << json(after).dump();
  }
  expectUniqueIds();
}

TEST_F(RedisEventsTest, ARestartedReplicaReportsOnlyWhatChangedWhileItWasAway) {
  const std::string address = "127.0.0.1:" + std::to_string(freeLoopbackPort());
  startReplica(redis_->url(), address);
  startNode(address);
  auto alice = join(0, "alice", "room:a");
  auto bob = join(0, "bob", "room:b");
  ASSERT_TRUE(receiver_.waitFor("client.connected alice", 15s));
  ASSERT_TRUE(receiver_.waitFor("client.connected bob", 15s));
  replicas_[0]->stop(SIGKILL, 10s);
  bob->close();  // while herald-control is down: its node reports it afterwards
  startReplica(redis_->url(), address);
  ASSERT_TRUE(receiver_.waitFor("user.offline bob", 20s));
  // Past the 3 s after which the dead start's holds are released: alice never left.
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(receiver_.uniqueCount("user.online alice"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("client.connected alice"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("user.offline alice"), 0u);
  EXPECT_EQ(receiver_.uniqueCount("client.disconnected alice"), 0u);
  EXPECT_EQ(receiver_.uniqueCount("client.disconnected bob"), 1u);
  EXPECT_EQ(receiver_.uniqueCount("user.offline bob"), 1u);
  alice->close();
  ASSERT_TRUE(receiver_.waitFor("user.offline alice", 15s));
  expectUniqueIds();
}

}  // namespace
}  // namespace herald::testing
