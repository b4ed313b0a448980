// client.* and subscription.* events to the backend (docs/hooks.md "Events"), received by a
// backend written here: each connection and subscription reported once, in its order, with the
// close code; a killed node's connections reported closed exactly once; and what the server
// does to connections itself (Subscribe / Unsubscribe / Refresh, docs/api.md) reaches both the
// client and the events.
#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/event_receiver.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

std::string token(const std::string& user, int64_t ttl = 3600, const std::string& jti = "") {
  json claims = {{"sub", user}, {"exp", nowSeconds() + ttl}};
  if (!jti.empty()) {
    claims["jti"] = jti;
  }
  return signToken("HS256", kTestJwtSecret, claims, "test");
}

class ClientEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json c = defaultControlConfig();
    c["hooks"] = {{"endpoints", {{{"name", "app"}, {"url", receiver_.url()}}}}};
    c["events"] = {{"endpoints", {"app"}}};  // every type
    c["namespaces"] = {{{"name", "room"}, {"subscription_events", true}, {"history_size", 100}},
                       {{"name", "other"}}};
    c["heartbeat_interval_ms"] = 250;
    c["node_timeout_ms"] = 2000;
    cluster_ = std::make_unique<Cluster>(c);
    cluster_->startControl();
    cluster_->startNode();
    ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  }
  // Connects; returns the client and its client id.
  std::pair<std::unique_ptr<WsClient>, std::string> connect(const std::string& query) {
    auto ws = std::make_unique<WsClient>(cluster_->wsUrl(0, query));
    EXPECT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    auto connected = ws->nextOfType("connected", 10s);
    EXPECT_TRUE(connected.has_value());
    return {std::move(ws), connected ? (*connected)["client"].get<std::string>() : ""};
  }
  // "type user channel [code reason]" of each client.* / subscription.* event of `client`.
  std::vector<std::string> of(const std::string& client) {
    std::vector<std::string> out;
    for (const auto& e : receiver_.events()) {
      if (e.value("client", "") != client) {
        continue;
      }
      std::string line = e["type"].get<std::string>() + " " + e.value("user", "");
      if (e.contains("channel")) {
        line += " " + e["channel"].get<std::string>();
      }
      if (e["type"] == "client.disconnected") {
        line += " " + std::to_string(e["code"].get<int>()) + " " + e.value("reason", "");
      }
      out.push_back(line);
    }
    return out;
  }
  bool waitForCount(const std::string& client, size_t n) {
    return eventually([&] { return of(client).size() >= n; }, 10s);
  }

  EventReceiver receiver_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(ClientEventsTest, EachConnectionAndSubscriptionIsReportedInItsOrder) {
  auto [alice, id] = connect("token=" + token("alice") + "&subscribe=room:1,other:1");
  // Reported before anything else happens (a user online and offline within one report of
  // its node makes no pair).
  ASSERT_TRUE(receiver_.waitFor("channel.occupied room:1", 10s));
  alice->send(R"({"id":1,"type":"subscribe","channels":["room:2"]})");
  ASSERT_EQ(alice->nextAnswer(10s)["type"], "reply");
  alice->send(R"({"id":2,"type":"unsubscribe","channels":["room:1"]})");
  ASSERT_EQ(alice->nextAnswer(10s)["type"], "reply");
  alice->close();  // 1000 "bye"
  ASSERT_TRUE(waitForCount(id, 6)) << json(of(id)).dump();
  ASSERT_TRUE(receiver_.waitFor("user.offline alice", 10s));
  EXPECT_EQ(of(id), (std::vector<std::string>{
                        "client.connected alice", "subscription.added alice room:1",
                        "subscription.added alice room:2", "subscription.removed alice room:1",
                        "subscription.removed alice room:2", "client.disconnected alice 1000 bye"}))
      << "other:1 is in a namespace without subscription_events";
  // The cluster-wide transitions come around the connection's own events: the user online
  // before her connection, the channel occupied before its subscription, and the reverse.
  std::vector<std::string> all;
  for (const auto& e : receiver_.events()) {
    all.push_back(e["type"].get<std::string>() + " " +
                  e.value("channel", e.value("user", std::string())));
  }
  auto at = [&](const std::string& what) {
    auto found = std::find(all.begin(), all.end(), what);
    EXPECT_NE(found, all.end()) << what << " never came: " << json(all).dump();
    return found - all.begin();
  };
  EXPECT_LT(at("user.online alice"), at("client.connected alice"));
  EXPECT_LT(at("channel.occupied room:1"), at("subscription.added room:1"));
  EXPECT_LT(at("subscription.removed room:1"), at("channel.vacated room:1"));
  EXPECT_LT(at("client.disconnected alice"), at("user.offline alice"));

  // A connection that authenticates later carries its user from then on.
  auto [later, later_id] = connect("subscribe=room:3");
  later->send(R"({"id":1,"type":"authenticate","token":")" + token("carol") + R"("})");
  ASSERT_EQ(later->nextAnswer(10s)["type"], "reply");
  later->close();
  ASSERT_TRUE(waitForCount(later_id, 4));
  EXPECT_EQ(of(later_id),
            (std::vector<std::string>{"client.connected ", "subscription.added  room:3",
                                      "subscription.removed carol room:3",
                                      "client.disconnected carol 1000 bye"}));

  // Anonymous connections are connections too (no user member).
  auto [anon, anon_id] = connect("");
  anon->close();
  ASSERT_TRUE(waitForCount(anon_id, 2));
  EXPECT_EQ(of(anon_id),
            (std::vector<std::string>{"client.connected ", "client.disconnected  1000 bye"}));
}

TEST_F(ClientEventsTest, AKilledNodesConnectionsAreReportedClosedExactlyOnce) {
  auto [alice, alice_id] = connect("token=" + token("alice") + "&subscribe=room:1");
  auto [bob, bob_id] = connect("token=" + token("bob"));
  ASSERT_TRUE(waitForCount(alice_id, 2));
  ASSERT_TRUE(waitForCount(bob_id, 1));
  cluster_->node(0).stop(SIGKILL, 10s);
  ASSERT_TRUE(waitForCount(alice_id, 4));
  ASSERT_TRUE(waitForCount(bob_id, 2));
  // Past another node timeout: nothing more.
  std::this_thread::sleep_for(3s);
  const auto alice_events = of(alice_id);
  ASSERT_EQ(alice_events.size(), 4u) << json(alice_events).dump();
  EXPECT_EQ(alice_events[2], "subscription.removed alice room:1");
  EXPECT_EQ(alice_events[3].rfind("client.disconnected alice 1006 node ", 0), 0u)
      << alice_events[3];
  EXPECT_NE(alice_events[3].find("did not come back"), std::string::npos) << alice_events[3];
  ASSERT_EQ(of(bob_id).size(), 2u);
  EXPECT_EQ(of(bob_id)[1].rfind("client.disconnected bob 1006 ", 0), 0u);
}

TEST_F(ClientEventsTest, TheServerSubscribesAndUnsubscribesEveryConnectionOfAUser) {
  auto [phone, phone_id] = connect("token=" + token("alice"));
  auto [laptop, laptop_id] = connect("token=" + token("alice"));
  auto [bob, bob_id] = connect("token=" + token("bob"));
  // herald-control routes by user once the node reported them (the events follow that).
  ASSERT_TRUE(receiver_.waitFor("user.online alice", 10s));
  ASSERT_TRUE(receiver_.waitFor("user.online bob", 10s));
  const auto before = cluster_->publish("room:7", R"({"n":1})");

  herald::v1::SubscribeRequest sub;
  sub.set_user("alice");
  sub.set_channel("room:7");
  sub.set_recover(true);
  sub.set_since_offset(before.offset() - 1);
  sub.set_epoch(before.epoch());
  herald::v1::SubscribeResponse sub_resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->api().Subscribe(&ctx, sub, &sub_resp).ok());
  }
  EXPECT_EQ(sub_resp.nodes(), 1u);
  for (auto* ws : {phone.get(), laptop.get()}) {
    auto subscribed = ws->nextOfType("subscribed", 10s);
    ASSERT_TRUE(subscribed.has_value());
    EXPECT_EQ((*subscribed)["channel"], "room:7");
    auto missed = ws->nextOfType("message", 10s);
    ASSERT_TRUE(missed.has_value());
    EXPECT_EQ((*missed)["data"], json({{"n", 1}})) << "recovered from the offset given";
    auto recovery = ws->nextOfType("recovery", 10s);
    ASSERT_TRUE(recovery.has_value());
    EXPECT_TRUE((*recovery)["recovered"].get<bool>());
  }
  ASSERT_TRUE(waitForCount(phone_id, 2));
  EXPECT_EQ(of(phone_id)[1], "subscription.added alice room:7");

  // One connection only, by its client id.
  herald::v1::UnsubscribeRequest unsub;
  unsub.set_client(laptop_id);
  unsub.set_channel("room:7");
  herald::v1::UnsubscribeResponse unsub_resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->api().Unsubscribe(&ctx, unsub, &unsub_resp).ok());
  }
  auto unsubscribed = laptop->nextOfType("unsubscribed", 10s);
  ASSERT_TRUE(unsubscribed.has_value());
  EXPECT_EQ((*unsubscribed)["channel"], "room:7");
  cluster_->publish("room:7", R"({"n":2})");
  auto live = phone->nextOfType("message", 10s);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ((*live)["data"], json({{"n", 2}})) << "the phone is still subscribed";
  ASSERT_TRUE(waitForCount(laptop_id, 3));
  EXPECT_EQ(of(laptop_id)[2], "subscription.removed alice room:7");
  EXPECT_EQ(of(bob_id).size(), 1u) << "bob was never subscribed";

  // heraldctl does the same: bob by user.
  auto r = runCommand(heraldctlBinary(),
                      {"--control", cluster_->controlAddress(), "--api-key", kTestAdminKey,
                       "subscribe", "room:7", "--user", "bob"},
                      30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("subscribe user bob to room:7: sent to 1 node(s)"), std::string::npos)
      << r.out;
  ASSERT_TRUE(bob->nextOfType("subscribed", 10s).has_value());
}

TEST_F(ClientEventsTest, RefreshMovesTheExpiryOfTheUsersConnections) {
  // A token that expires in 2 s; the server extends it, then ends it.
  auto [alice, id] = connect("token=" + token("alice", 2) + "&subscribe=room:1");
  ASSERT_TRUE(receiver_.waitFor("user.online alice", 10s));
  herald::v1::RefreshRequest req;
  req.set_user("alice");
  req.set_expire_at(nowSeconds() + 3600);
  herald::v1::RefreshResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->api().Refresh(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(resp.nodes(), 1u);
  // Past the token's own expiry (the default leeway is 0), the connection still delivers.
  std::this_thread::sleep_for(4s);
  cluster_->publish("room:1", R"({"still":"here"})");
  auto message = alice->nextOfType("message", 10s);
  ASSERT_TRUE(message.has_value()) << "closed at the token's expiry despite the refresh";
  // An expiry in the past closes it as an expired token would be.
  req.set_expire_at(1);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(cluster_->api().Refresh(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(alice->waitClosed(10s), std::optional<int>(4002));
  ASSERT_TRUE(waitForCount(id, 4));
  EXPECT_EQ(of(id)[3], "client.disconnected alice 4002 token expired");
}

TEST_F(ClientEventsTest, HeraldctlRevokesATokenAndBlocksAUser) {
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(),
                {"--control", cluster_->controlAddress(), "--api-key", kTestAdminKey});
    return runCommand(heraldctlBinary(), args, 30s);
  };
  auto [alice, alice_id] = connect("token=" + token("alice", 3600, "jti-a1"));
  const std::string exp = std::to_string(nowSeconds() + 3600);
  auto revoked = ctl({"revoke-token", "jti-a1", "--expire-at", exp});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_NE(revoked.out.find("token jti-a1 revoked until " + exp), std::string::npos)
      << revoked.out;
  EXPECT_EQ(alice->waitClosed(10s), std::optional<int>(4004));
  ASSERT_TRUE(waitForCount(alice_id, 2));
  EXPECT_EQ(of(alice_id)[1], "client.disconnected alice 4004 token revoked");

  auto [bob, bob_id] = connect("token=" + token("bob"));
  ASSERT_TRUE(receiver_.waitFor("user.online bob", 10s));
  auto blocked = ctl({"disconnect", "--user", "bob", "--code", "4321", "--reason", "banned",
                      "--block-until", std::to_string(nowSeconds() + 600)});
  ASSERT_EQ(blocked.exit_code, 0) << blocked.err;
  EXPECT_EQ(bob->waitClosed(10s), std::optional<int>(4321));
  WsClient again(cluster_->wsUrl(0, "token=" + token("bob")));
  ASSERT_TRUE(again.waitOpen(10s));
  auto refused = again.nextOfType("error", 10s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ((*refused)["message"].get<std::string>().rfind("user is blocked until ", 0), 0u);
  EXPECT_EQ(again.waitClosed(10s), std::optional<int>(4005));
  auto usage = ctl({"revoke-token", "jti-x"});
  EXPECT_EQ(usage.exit_code, 2) << "no --expire-at";
}

}  // namespace
}  // namespace herald::testing
