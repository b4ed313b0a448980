// Limits pushed from the control plane, tripped on a real node: each answers with its stable
// code or close code, is counted in /stats, and leaves other clients undisturbed.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/raw_ws.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using nlohmann::json;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    bystander_ = std::make_unique<WsClient>(cluster_.wsUrl(0, "subscribe=token:price"));
    ASSERT_TRUE(bystander_->waitOpen(10s));
    ASSERT_TRUE(bystander_->nextOfType("connected", 10s));
    ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  }

  void setLimits(const std::function<void(herald::v1::Limits*)>& change) {
    ASSERT_TRUE(cluster_.setLimits(change));
  }

  json stats() { return json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body); }

  // Tripped limits must not slow or cut off anyone else.
  void expectBystanderStillServed() {
    auto sent = cluster_.publish("token:price", "{\"still\":true}");
    auto frame = bystander_->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ((*frame)["offset"], sent.offset());
  }

  Cluster cluster_;
  std::unique_ptr<WsClient> bystander_;
};

TEST_F(LimitsTest, InboundMessageRateIsLimitedThenAbuseCloses4029) {
  setLimits([](herald::v1::Limits* l) {
    l->set_client_messages_per_minute(60);
    l->set_client_message_burst(5);
  });
  WsClient ws(cluster_.wsUrl(0));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  for (int i = 0; i < 8; ++i) {
    ws.send(json{{"type", "ping"}, {"id", i}}.dump());
  }
  int pongs = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto frame = ws.next(10s);
    ASSERT_TRUE(frame.has_value());
    if ((*frame)["type"] == "pong") {
      ++pongs;
    } else {
      EXPECT_EQ((*frame)["code"], "rate_limited") << *frame;
      EXPECT_EQ((*frame)["id"], i) << "the refused frame's id is echoed";
      ++limited;
    }
  }
  EXPECT_EQ(pongs, 5) << "the burst passes";
  EXPECT_EQ(limited, 3);
  for (int i = 0; i < 60; ++i) {
    ws.send(R"({"type":"ping"})");
  }
  EXPECT_EQ(ws.waitClosed(10s), 4029);
  EXPECT_GE(stats()["rate_limited"].get<int>(), 50);
  expectBystanderStillServed();
}

TEST_F(LimitsTest, AllowedOriginsRefuseOthersWith403) {
  setLimits([](herald::v1::Limits* l) { l->add_allowed_origins("https://app.example"); });
  RawWs allowed(cluster_.nodeAddress(0), "/ws", {"Origin: https://app.example"});
  EXPECT_TRUE(allowed.ok());
  RawWs other(cluster_.nodeAddress(0), "/ws", {"Origin: https://evil.example"});
  EXPECT_EQ(other.status(), 403);
  RawWs none(cluster_.nodeAddress(0), "/ws");
  EXPECT_EQ(none.status(), 403) << "no Origin header is not an allowed origin";
  EXPECT_EQ(stats()["refused_origin"], 2) << "each refused upgrade counts once, the allowed none";
  expectBystanderStillServed();
}

TEST_F(LimitsTest, NewConnectionsPerIpPerSecondAnswer429) {
  setLimits([](herald::v1::Limits* l) { l->set_new_connections_per_ip_per_second(3); });
  int refused = 0, accepted = 0;
  std::vector<std::unique_ptr<RawWs>> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(std::make_unique<RawWs>(cluster_.nodeAddress(0), "/ws"));
    held.back()->ok() ? ++accepted : ++refused;
    if (!held.back()->ok()) {
      EXPECT_EQ(held.back()->status(), 429);
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_LE(accepted, 6) << "at most 3 a second (the loop may straddle one second boundary)";
  EXPECT_GT(stats()["refused_ip_rate"].get<int>(), 0);
  expectBystanderStillServed();
}

TEST_F(LimitsTest, FailedAuthenticationsPerIpBlockTheAddress) {
  setLimits([](herald::v1::Limits* l) { l->set_failed_auth_per_ip_per_minute(3); });
  const std::string bad = signToken("HS256", "not-the-secret-not-the-secret-00", {{"sub", "x"}});
  std::vector<int> codes;
  for (int i = 0; i < 3; ++i) {
    RawWs raw(cluster_.nodeAddress(0), "/ws?token=" + bad);
    ASSERT_TRUE(raw.ok());
    auto code = raw.waitCloseCode(10s);
    ASSERT_TRUE(code.has_value());
    codes.push_back(*code);
  }
  EXPECT_EQ(codes[0], 4001);
  EXPECT_EQ(codes[2], 4029) << "the third failure trips the limit";
  RawWs after(cluster_.nodeAddress(0), "/ws");
  EXPECT_EQ(after.status(), 429) << "the address is refused for the rest of the minute";
  EXPECT_GE(stats()["auth_failures"].get<int>(), 3);
  expectBystanderStillServed();
}

TEST_F(LimitsTest, SubscriptionsPerNamespacePerConnection) {
  setLimits([](herald::v1::Limits* l) { l->set_max_subscriptions_per_namespace(2); });
  WsClient ws(cluster_.wsUrl(0, "subscribe=chat:1,chat:2"));
  ASSERT_TRUE(ws.waitOpen(10s));
  auto c = ws.nextOfType("connected", 10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["subscribed"].size(), 2u);
  ws.send(R"({"type":"subscribe","channels":["chat:3"],"id":1})");
  auto err = ws.next(10s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ((*err)["code"], "limit_exceeded");
  EXPECT_NE((*err)["message"].get<std::string>().find("'chat'"), std::string::npos);
  ws.send(R"({"type":"subscribe","channels":["news:1"],"id":2})");
  auto ok = ws.next(10s);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["type"], "reply") << "other namespaces have their own allowance";
  EXPECT_EQ(stats()["subscribe_over_limit"], 1);
  expectBystanderStillServed();
}

TEST_F(LimitsTest, SubscriptionsPerConnection) {
  setLimits([](herald::v1::Limits* l) { l->set_max_subscriptions_per_connection(3); });
  WsClient ws(cluster_.wsUrl(0, "subscribe=chat:1,news:1"));
  ASSERT_TRUE(ws.waitOpen(10s));
  auto c = ws.nextOfType("connected", 10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["subscribed"].size(), 2u);
  // Two more would make four: all-or-nothing, so neither is taken.
  ws.send(R"({"type":"subscribe","channels":["sport:1","weather:1"],"id":1})");
  auto err = ws.next(10s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ((*err)["type"], "error") << *err;
  EXPECT_EQ((*err)["code"], "limit_exceeded") << *err;
  EXPECT_EQ((*err)["id"], 1);
  EXPECT_NE((*err)["message"].get<std::string>().find("3 subscriptions per connection"),
            std::string::npos)
      << *err;
  ws.send(R"({"type":"subscribe","channels":["sport:1"],"id":2})");
  auto ok = ws.next(10s);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["type"], "reply") << "the third fits: " << *ok;
  EXPECT_EQ(stats()["subscribe_over_limit"], 1);
  expectBystanderStillServed();
}

TEST_F(LimitsTest, FrameAboveMaxInboundFrameBytesCloses1009) {
  setLimits([](herald::v1::Limits* l) { l->set_max_inbound_frame_bytes(1024); });
  WsClient ws(cluster_.wsUrl(0));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  // Just under the pushed limit passes (the default limit is 64 KiB, so this also shows the
  // pushed value is the one applied)...
  const std::string pad(900, 'x');
  ws.send(json{{"type", "ping"}, {"id", 1}, {"pad", pad}}.dump());
  auto pong = ws.nextOfType("pong", 10s);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ((*pong)["id"], 1);
  // ...just over it closes the connection.
  ws.send(json{{"type", "ping"}, {"id", 2}, {"pad", std::string(1100, 'x')}}.dump());
  EXPECT_EQ(ws.waitClosed(10s), 1009)
      << "a connection opened after SetLimits gets the pushed max_inbound_frame_bytes";
  EXPECT_TRUE(eventually([&] { return stats()["frames_too_large"] == 1; }, 10s)) << stats().dump();
  expectBystanderStillServed();
  EXPECT_EQ(stats()["frames_too_large"], 1) << "counted once";
}

TEST_F(LimitsTest, NamespaceMaxSubscribersPerChannelPerNode) {
  {
    grpc::ClientContext ctx;
    herald::v1::CreateNamespaceRequest req;
    req.mutable_namespace_()->set_name("room");
    req.mutable_namespace_()->set_max_subscribers(2);
    herald::v1::CreateNamespaceResponse resp;
    ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, req, &resp).ok());
    ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));
  }
  // Several connections, so that the node's shards share the count.
  std::vector<std::unique_ptr<WsClient>> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<WsClient>(cluster_.wsUrl(0)));
    ASSERT_TRUE(members.back()->waitOpen(10s));
    ASSERT_TRUE(members.back()->nextOfType("connected", 10s));
  }
  auto subscribe = [](WsClient& ws, const std::string& channel, int id) {
    ws.send(json{{"type", "subscribe"}, {"channels", {channel}}, {"id", id}}.dump());
    return ws.nextAnswer(10s);
  };
  EXPECT_EQ(subscribe(*members[0], "room:1", 1)["type"], "reply");
  EXPECT_EQ(subscribe(*members[1], "room:1", 2)["type"], "reply");
  json refused = subscribe(*members[2], "room:1", 3);
  EXPECT_EQ(refused["code"], "limit_exceeded") << refused;
  EXPECT_NE(refused["message"].get<std::string>().find("max_subscribers (2)"), std::string::npos)
      << refused;
  EXPECT_EQ(subscribe(*members[2], "room:2", 4)["type"], "reply") << "the limit is per channel";
  // A place freed by leaving is taken again.
  members[0]->close();
  EXPECT_TRUE(
      eventually([&] { return subscribe(*members[2], "room:1", 5)["type"] == "reply"; }, 10s));
  EXPECT_GE(stats()["subscribe_over_limit"].get<int>(), 1) << stats().dump();
  expectBystanderStillServed();
}

TEST_F(LimitsTest, ConnectionsPerNodeAnswer503) {
  setLimits([](herald::v1::Limits* l) { l->set_max_connections_per_node(2); });
  RawWs second(cluster_.nodeAddress(0), "/ws");  // the bystander is the first
  EXPECT_TRUE(second.ok());
  RawWs third(cluster_.nodeAddress(0), "/ws");
  EXPECT_EQ(third.status(), 503);
  EXPECT_GE(stats()["connections_refused"].get<int>(), 1);
  expectBystanderStillServed();
}

}  // namespace
}  // namespace herald::testing
