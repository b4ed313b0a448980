// Client authentication and subscribe permissions on real nodes, with tokens the test signs.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using nlohmann::json;

std::string token(const std::string& sub, json extra = json::object(), int64_t ttl = 3600) {
  json claims = {{"sub", sub}, {"exp", nowSeconds() + ttl}};
  claims.update(extra);
  return signToken("HS256", kTestJwtSecret, claims, "test");
}

class AuthTest : public ::testing::Test {
 protected:
  explicit AuthTest(json config = defaultControlConfig()) : cluster_(std::move(config)) {}

  // Until `nodes` nodes have reported `user`, probing with harmless personal messages (a
  // retried Disconnect would act on the first node before the second is known).
  bool waitUserOnNodes(const std::string& user, uint32_t nodes) {
    return eventually(
        [&] {
          grpc::ClientContext ctx;
          herald::v1::SendToUserRequest probe;
          probe.set_user(user);
          probe.set_data(R"({"probe":true})");
          herald::v1::SendToUserResponse resp;
          return cluster_.api().SendToUser(&ctx, probe, &resp).ok() && resp.nodes() == nodes;
        },
        10s);
  }

  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(2));
    createNamespace("balance", herald::v1::SUBSCRIBE_RULE_OWNER, "address");
    createNamespace("user", herald::v1::SUBSCRIBE_RULE_OWNER, "");
    createNamespace("intent", herald::v1::SUBSCRIBE_RULE_GRANTED, "");
    createNamespace("members", herald::v1::SUBSCRIBE_RULE_AUTHENTICATED, "");
    ASSERT_TRUE(cluster_.waitAckedVersion(version_));
  }

  void createNamespace(const std::string& name, herald::v1::SubscribeRule rule,
                       const std::string& claim) {
    grpc::ClientContext ctx;
    herald::v1::CreateNamespaceRequest req;
    req.mutable_namespace_()->set_name(name);
    req.mutable_namespace_()->set_subscribe_rule(rule);
    req.mutable_namespace_()->set_owner_claim(claim);
    herald::v1::CreateNamespaceResponse resp;
    ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, req, &resp).ok());
    version_ = resp.config_version();
  }

  std::unique_ptr<WsClient> connect(size_t node, const std::string& query) {
    auto ws = std::make_unique<WsClient>(cluster_.wsUrl(node, query));
    EXPECT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    return ws;
  }

  // Subscribes and returns the reply or error frame.
  static json subscribe(WsClient& ws, const std::string& channel, int id) {
    ws.send(json{{"type", "subscribe"}, {"channels", {channel}}, {"id", id}}.dump());
    return ws.nextAnswer(10s);
  }

  Cluster cluster_;
  uint64_t version_ = 0;
};

TEST_F(AuthTest, TokenInUrlIdentifiesTheUser) {
  auto ws = connect(0, "token=" + token("alice"));
  auto c = ws->nextOfType("connected", 10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["user"], "alice");
}

TEST_F(AuthTest, InvalidTokenInUrlGetsUnauthorizedAndClose4001) {
  auto ws = connect(0, "token=" + signToken("HS256", "wrong-secret-wrong-secret-wrong!!",
                                            {{"sub", "eve"}}, "test"));
  auto err = ws->next(10s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ((*err)["type"], "error");
  EXPECT_EQ((*err)["code"], "unauthorized");
  EXPECT_EQ(ws->waitClosed(10s), 4001);
  auto stats = json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body);
  EXPECT_GE(stats["auth_failures"].get<int>(), 1);
}

TEST_F(AuthTest, ExpiredTokenInUrlIsRefused) {
  auto ws = connect(0, "token=" + token("alice", json::object(), -10));
  auto err = ws->next(10s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ((*err)["message"], "token expired");
  EXPECT_EQ(ws->waitClosed(10s), 4001);
}

TEST_F(AuthTest, SendToUserReachesEveryConnectionOfThatUserOnEveryNode) {
  auto a1 = connect(0, "token=" + token("alice"));
  auto a2 = connect(1, "token=" + token("alice"));
  auto b = connect(1, "token=" + token("bob"));
  for (auto* ws : {a1.get(), a2.get(), b.get()}) {
    ASSERT_TRUE(ws->nextOfType("connected", 10s));
  }
  ASSERT_TRUE(waitUserOnNodes("alice", 2));
  grpc::ClientContext ctx;
  herald::v1::SendToUserRequest req;
  req.set_user("alice");
  req.set_data(R"({"transfer":42})");
  req.set_event("transfer");
  herald::v1::SendToUserResponse resp;
  ASSERT_TRUE(cluster_.api().SendToUser(&ctx, req, &resp).ok());
  for (auto* ws : {a1.get(), a2.get()}) {
    // Skip the probes sent while waiting for routing.
    std::optional<json> frame;
    do {
      frame = ws->nextOfType("message", 10s);
      ASSERT_TRUE(frame.has_value());
    } while ((*frame)["data"].contains("probe"));
    EXPECT_EQ((*frame)["user"], "alice");
    EXPECT_EQ((*frame)["event"], "transfer");
    EXPECT_EQ((*frame)["data"]["transfer"], 42);
  }
  b->send(R"({"type":"ping","id":1})");
  auto next = b->next(10s);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ((*next)["type"], "pong") << "bob received alice's message: " << *next;
}

TEST_F(AuthTest, DisconnectByUserClosesAllItsConnections) {
  auto a1 = connect(0, "token=" + token("alice"));
  auto a2 = connect(1, "token=" + token("alice"));
  ASSERT_TRUE(a1->nextOfType("connected", 10s));
  ASSERT_TRUE(a2->nextOfType("connected", 10s));
  ASSERT_TRUE(waitUserOnNodes("alice", 2));
  grpc::ClientContext ctx;
  herald::v1::DisconnectRequest req;
  req.set_user("alice");
  req.set_code(4403);
  herald::v1::DisconnectResponse resp;
  ASSERT_TRUE(cluster_.api().Disconnect(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.nodes(), 2);
  EXPECT_EQ(a1->waitClosed(10s), 4403);
  EXPECT_EQ(a2->waitClosed(10s), 4403);
}

TEST_F(AuthTest, OwnerRuleUsesSubjectOrConfiguredClaimCaseInsensitiveForHex) {
  auto ws = connect(0, "token=" + token("alice", {{"address", "0xAbCdEf"}}));
  ASSERT_TRUE(ws->nextOfType("connected", 10s));
  EXPECT_EQ(subscribe(*ws, "balance:0xabcdef", 1)["type"], "reply");
  auto denied = subscribe(*ws, "balance:0x123456", 2);
  EXPECT_EQ(denied["code"], "permission_denied");
  EXPECT_EQ(subscribe(*ws, "user:alice", 3)["type"], "reply");
  EXPECT_EQ(subscribe(*ws, "user:bob", 4)["code"], "permission_denied");
  EXPECT_EQ(subscribe(*ws, "user:ALICE", 5)["code"], "permission_denied")
      << "non-hex owners compare exactly";
  EXPECT_EQ(subscribe(*ws, "members:lounge", 6)["type"], "reply");
}

TEST_F(AuthTest, GrantedRuleFollowsTheChannelsClaim) {
  auto ws = connect(0, "token=" + token("alice", {{"channels", {"intent:42", "intent:room-*"}}}));
  ASSERT_TRUE(ws->nextOfType("connected", 10s));
  EXPECT_EQ(subscribe(*ws, "intent:42", 1)["type"], "reply");
  EXPECT_EQ(subscribe(*ws, "intent:room-7", 2)["type"], "reply");
  EXPECT_EQ(subscribe(*ws, "intent:43", 3)["code"], "permission_denied");
}

TEST_F(AuthTest, AnonymousConnectionsGetPublicChannelsOnly) {
  auto ws = connect(0, "");
  auto c = ws->nextOfType("connected", 10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["user"], "");
  EXPECT_EQ(subscribe(*ws, "token:price", 1)["type"], "reply");
  for (const char* channel : {"members:lounge", "user:alice", "intent:42", "balance:0xabc"}) {
    EXPECT_EQ(subscribe(*ws, channel, 2)["code"], "permission_denied") << channel;
  }
  auto stats = json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body);
  EXPECT_EQ(stats["subscribe_denied"], 4);
}

TEST_F(AuthTest, ExpiryClosesWith4002UnlessRefreshed) {
  auto expiring = connect(0, "token=" + token("alice", json::object(), 2));
  auto refreshed = connect(0, "token=" + token("bob", json::object(), 2));
  ASSERT_TRUE(expiring->nextOfType("connected", 10s));
  ASSERT_TRUE(refreshed->nextOfType("connected", 10s));
  refreshed->send(json{{"type", "authenticate"}, {"token", token("bob")}, {"id", 9}}.dump());
  auto reply = refreshed->nextOfType("reply", 10s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ((*reply)["id"], 9);
  EXPECT_EQ(expiring->waitClosed(10s), 4002);
  // The refreshed connection outlived the first token's expiry.
  refreshed->send(R"({"type":"ping","id":10})");
  auto pong = refreshed->nextOfType("pong", 10s);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ((*pong)["id"], 10);
}

TEST_F(AuthTest, RefreshWithAnotherUsersTokenIsRefused) {
  auto ws = connect(0, "token=" + token("alice"));
  ASSERT_TRUE(ws->nextOfType("connected", 10s));
  ws->send(json{{"type", "authenticate"}, {"token", token("mallory")}, {"id", 3}}.dump());
  auto err = ws->nextOfType("error", 10s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ((*err)["code"], "permission_denied");
}

TEST_F(AuthTest, KeysRotateAtRuntimeAndSecretsAreNeverShown) {
  auto rsa = makeRsaKeyPair();
  grpc::ClientContext ctx;
  herald::v1::SetAuthSettingsRequest req;
  auto* auth = req.mutable_auth();
  auth->set_allow_anonymous(true);
  auto* hs = auth->add_keys();
  hs->set_kid("test");
  hs->set_algorithm("HS256");
  hs->set_secret(kTestJwtSecret);
  auto* rs = auth->add_keys();
  rs->set_kid("rsa-2026");
  rs->set_algorithm("RS256");
  rs->set_public_key_pem(rsa.public_pem);
  herald::v1::SetAuthSettingsResponse resp;
  ASSERT_TRUE(cluster_.api().SetAuthSettings(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.auth().keys(0).secret(), "<redacted>");
  ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));

  auto ws =
      connect(1, "token=" + signToken("RS256", rsa.private_pem,
                                      {{"sub", "carol"}, {"exp", nowSeconds() + 60}}, "rsa-2026"));
  auto c = ws->nextOfType("connected", 10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["user"], "carol");

  grpc::ClientContext get_ctx;
  herald::v1::GetAuthSettingsResponse got;
  ASSERT_TRUE(
      cluster_.api().GetAuthSettings(&get_ctx, herald::v1::GetAuthSettingsRequest(), &got).ok());
  ASSERT_EQ(got.auth().keys_size(), 2);
  EXPECT_EQ(got.auth().keys(0).secret(), "<redacted>");
  EXPECT_EQ(got.auth().keys(1).public_key_pem(), rsa.public_pem);

  grpc::ClientContext bad_ctx;
  herald::v1::SetAuthSettingsRequest bad;
  auto* weak = bad.mutable_auth()->add_keys();
  weak->set_algorithm("HS256");
  weak->set_secret("short");
  EXPECT_EQ(cluster_.api().SetAuthSettings(&bad_ctx, bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuthTest, ConnectionsPerUserAreLimitedAcrossTheCluster) {
  grpc::ClientContext ctx;
  herald::v1::SetLimitsRequest req;
  req.mutable_limits()->set_max_connections_per_user(2);
  herald::v1::SetLimitsResponse resp;
  ASSERT_TRUE(cluster_.api().SetLimits(&ctx, req, &resp).ok());
  ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));
  auto first = connect(0, "token=" + token("alice"));
  auto second = connect(1, "token=" + token("alice"));
  ASSERT_TRUE(first->nextOfType("connected", 10s));
  ASSERT_TRUE(second->nextOfType("connected", 10s));
  // The block reaches the nodes asynchronously: try until a third connection is refused.
  std::optional<int> refused_code;
  ASSERT_TRUE(eventually(
      [&] {
        WsClient third(cluster_.wsUrl(0, "token=" + token("alice")));
        if (!third.waitOpen(10s)) {
          return false;
        }
        auto frame = third.next(10s);
        if (frame && (*frame)["type"] == "error" && (*frame)["code"] == "limit_exceeded") {
          refused_code = third.waitClosed(10s);
          return true;
        }
        return false;
      },
      15s));
  EXPECT_EQ(refused_code, 4030);
  auto stats = json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body);
  EXPECT_GE(stats["refused_user_limit"].get<int>(), 1) << "node 0 refused alice: " << stats;
  // Bob is not affected: he connects to the node that refused alice and is served there.
  auto bob = connect(0, "token=" + token("bob") + "&subscribe=token:price");
  ASSERT_TRUE(bob->nextOfType("connected", 10s));
  ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  auto sent = cluster_.publish("token:price", R"({"for":"bob"})");
  auto delivered = bob->nextOfType("message", 10s);
  ASSERT_TRUE(delivered.has_value());
  EXPECT_EQ((*delivered)["offset"], sent.offset());
  // When one of alice's connections closes, she may connect again.
  first->close();
  ASSERT_TRUE(eventually(
      [&] {
        WsClient again(cluster_.wsUrl(1, "token=" + token("alice")));
        auto frame = again.waitOpen(10s) ? again.next(10s) : std::nullopt;
        return frame && (*frame)["type"] == "connected";
      },
      15s));
}

// A cluster that refuses anonymous clients.
class AuthRequiredTest : public AuthTest {
 protected:
  static json config() {
    json c = defaultControlConfig();
    c["auth"]["allow_anonymous"] = false;
    return c;
  }
  AuthRequiredTest() : AuthTest(config()) {}
};

TEST_F(AuthRequiredTest, TokenMayComeInTheFirstFrame) {
  auto ws = connect(0, "subscribe=token:price");
  ws->send(R"({"type":"subscribe","channels":["a"],"id":1})");
  auto err = ws->next(10s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ((*err)["type"], "error") << "nothing but authenticate before a token";
  EXPECT_EQ((*err)["code"], "unauthorized");
  ws->send(json{{"type", "authenticate"}, {"token", token("alice")}, {"id", 2}}.dump());
  auto c = ws->next(10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["type"], "connected");
  EXPECT_EQ((*c)["id"], 2);
  EXPECT_EQ((*c)["user"], "alice");
  EXPECT_EQ((*c)["subscribed"], json::array({"token:price"}));
}

TEST_F(AuthRequiredTest, BroadcastsSkipConnectionsWaitingForAToken) {
  auto waiting = connect(0, "");
  auto member = connect(0, "token=" + token("alice"));
  ASSERT_TRUE(member->nextOfType("connected", 10s));
  grpc::ClientContext ctx;
  herald::v1::BroadcastRequest req;
  req.set_data(R"({"all":true})");
  herald::v1::BroadcastResponse resp;
  ASSERT_TRUE(cluster_.api().Broadcast(&ctx, req, &resp).ok());
  ASSERT_TRUE(member->nextOfType("message", 10s).has_value());
  waiting->send(json{{"type", "authenticate"}, {"token", token("bob")}}.dump());
  auto first = waiting->next(10s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)["type"], "connected") << "nothing reaches a connection before its token";
}

TEST_F(AuthTest, LeewayAlsoAppliesToExpiryOfOpenConnections) {
  grpc::ClientContext ctx;
  herald::v1::SetAuthSettingsRequest req;
  req.mutable_auth()->set_allow_anonymous(true);
  req.mutable_auth()->set_leeway_seconds(30);
  auto* key = req.mutable_auth()->add_keys();
  key->set_kid("test");
  key->set_algorithm("HS256");
  key->set_secret(kTestJwtSecret);
  herald::v1::SetAuthSettingsResponse resp;
  ASSERT_TRUE(cluster_.api().SetAuthSettings(&ctx, req, &resp).ok());
  ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));
  auto ws = connect(0, "token=" + token("alice", json::object(), -5));
  ASSERT_TRUE(ws->nextOfType("connected", 10s)) << "5 s past exp is within the 30 s leeway";
  // The expiry sweep runs every second: two sweeps later the connection is still open.
  EXPECT_FALSE(ws->waitClosed(2500ms).has_value());
  ws->send(R"({"type":"ping","id":1})");
  EXPECT_TRUE(ws->nextOfType("pong", 10s).has_value());
}

TEST_F(AuthRequiredTest, NoTokenWithinTheDeadlineCloses4001) {
  auto ws = connect(0, "");
  EXPECT_EQ(ws->waitClosed(15s), 4001);
  auto stats = json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body);
  EXPECT_EQ(stats["auth_timeouts"], 1) << stats;
  EXPECT_EQ(stats["auth_failures"], 0) << "a client that sent nothing did not fail to authenticate";
}

}  // namespace
}  // namespace herald::testing
