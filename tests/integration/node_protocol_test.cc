// The WebSocket protocol as a client sees it on a real node: greetings, replies, stable error
// codes for bad input (the connection lives on), close codes for abuse, HTTP endpoints, and
// config pushed from the control plane taking effect.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/raw_ws.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

class NodeProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
  }

  std::unique_ptr<WsClient> connect(const std::string& query = "") {
    auto ws = std::make_unique<WsClient>(cluster_.wsUrl(0, query));
    EXPECT_TRUE(ws->waitOpen(10s)) << ws->failReason();
    auto connected = ws->next(10s);
    EXPECT_TRUE(connected.has_value());
    if (connected) {
      EXPECT_EQ((*connected)["type"], "connected");
    }
    return ws;
  }

  // The connection still answers: bad input did not close it.
  static void expectAlive(WsClient& ws) {
    ws.send(R"({"type":"ping","id":999})");
    auto pong = ws.nextOfType("pong", 10s);
    ASSERT_TRUE(pong.has_value()) << "connection did not survive";
    EXPECT_EQ((*pong)["id"], 999);
  }

  static void expectError(WsClient& ws, const std::string& code, std::optional<int> id = {}) {
    auto frame = ws.next(10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ((*frame)["type"], "error") << *frame;
    EXPECT_EQ((*frame)["code"], code) << *frame;
    EXPECT_FALSE((*frame)["message"].get<std::string>().empty());
    if (id) {
      EXPECT_EQ((*frame)["id"], *id);
    }
  }

  nlohmann::json stats(size_t node = 0) {
    return nlohmann::json::parse(httpGet(cluster_.nodeAddress(node), "/stats").body);
  }

  // Publications still reach `ws`, subscribed to `channel`: an abuser did not disturb it.
  void expectStillReceives(WsClient& ws, const std::string& channel) {
    auto sent = cluster_.publish(channel, "{\"still\":true}");
    auto frame = ws.nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value()) << "a bystander stopped receiving publications";
    EXPECT_EQ((*frame)["channel"], channel);
    EXPECT_EQ((*frame)["offset"], sent.offset());
  }

  Cluster cluster_;
};

TEST_F(NodeProtocolTest, ConnectedGreetingDescribesTheConnection) {
  WsClient ws(cluster_.wsUrl(0, "subscribe=token:price,news"));
  ASSERT_TRUE(ws.waitOpen(10s));
  auto c = ws.next(10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["type"], "connected");
  EXPECT_FALSE((*c)["client"].get<std::string>().empty());
  EXPECT_FALSE((*c)["node"].get<std::string>().empty());
  EXPECT_EQ((*c)["user"], "");
  EXPECT_EQ((*c)["ping_interval"], 30);
  EXPECT_EQ((*c)["subscribed"], nlohmann::json::array({"token:price", "news"}));
}

TEST_F(NodeProtocolTest, BadInputGetsStableErrorsAndTheConnectionLivesOn) {
  auto ws = connect();
  ws->send("not json at all");
  expectError(*ws, "bad_request");
  ws->send(R"({"type":"teleport","id":3})");
  expectError(*ws, "bad_request", 3);
  ws->send(R"({"type":"subscribe","channels":["ok","bad name"],"id":4})");
  expectError(*ws, "bad_request", 4);
  ws->send(R"({"type":"subscribe","channels":"token:price"})");
  expectError(*ws, "bad_request");
  ws->send(R"({"type":"subscribe","channels":["a"])");  // truncated
  expectError(*ws, "bad_request");
  ws->sendBinary(std::string("\x00\x01\x02", 3));
  expectError(*ws, "bad_request");
  ws->send(R"({"type":"authenticate","token":"x.y.z","id":5})");
  expectError(*ws, "unauthorized", 5);
  ws->send(R"({"type":"publish","channel":"token:price","data":{},"id":6})");
  expectError(*ws, "permission_denied", 6);
  expectAlive(*ws);
  // The all-or-nothing subscribe above must not have subscribed to "ok".
  ASSERT_TRUE(cluster_.waitInterest("ok", 0));
}

TEST_F(NodeProtocolTest, BadSubscribeInUrlIsReportedAfterTheGreeting) {
  WsClient ws(cluster_.wsUrl(0, "subscribe=bad%20name"));
  ASSERT_TRUE(ws.waitOpen(10s));
  auto c = ws.next(10s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ((*c)["subscribed"], nlohmann::json::array());
  expectError(ws, "bad_request");
  expectAlive(ws);
}

TEST_F(NodeProtocolTest, OversizedFrameClosesWith1009AndOthersAreUndisturbed) {
  auto bystander = connect("subscribe=token:price");
  auto abuser = connect();
  abuser->send(std::string(70 * 1024, 'x'));
  EXPECT_EQ(abuser->waitClosed(10s), 1009);
  expectAlive(*bystander);
}

TEST_F(NodeProtocolTest, InvalidUtf8TextFrameClosesWith1007) {
  auto bystander = connect("subscribe=token:price");
  ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  {
    // An abuser: it never answers the close frame, it just goes away.
    RawWs raw(cluster_.nodeAddress(0), "/ws");
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.sendFrame(0x1, "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}"));
    EXPECT_EQ(raw.waitCloseCode(10s), 1007);
  }
  EXPECT_TRUE(eventually([&] { return stats()["invalid_utf8"] == 1; }, 10s)) << stats().dump();
  expectStillReceives(*bystander, "token:price");
}

TEST_F(NodeProtocolTest, ContinuationWithoutAStartClosesWith1002) {
  auto bystander = connect("subscribe=token:price");
  ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  {
    RawWs raw(cluster_.nodeAddress(0), "/ws");
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.readFrame(10s).has_value());  // connected
    ASSERT_TRUE(raw.sendFrame(0x0, R"({"type":"ping"})", true));
    EXPECT_EQ(raw.waitCloseCode(10s), 1002);
  }
  EXPECT_TRUE(eventually([&] { return stats()["protocol_violations"] == 1; }, 10s))
      << stats().dump();
  expectStillReceives(*bystander, "token:price");
}

TEST_F(NodeProtocolTest, SlowlorisHandshakeIsCutOffAtTheDeadline) {
  // Half a request line, then silence: the node must not hold the socket forever.
  const std::string& address = cluster_.nodeAddress(0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string partial = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  ASSERT_EQ(::write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  const auto start = std::chrono::steady_clock::now();
  pollfd p{fd, POLLIN, 0};
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < 15s) {
    if (::poll(&p, 1, 1000) > 0) {
      char buf[256];
      closed = ::read(fd, buf, sizeof(buf)) <= 0;
    }
  }
  ::close(fd);
  EXPECT_TRUE(closed) << "a handshake that never completes must be closed (deadline 5 s)";
  EXPECT_TRUE(eventually([&] { return stats()["handshake_timeouts"].get<int>() >= 1; }, 10s))
      << stats().dump();
  expectAlive(*connect());
}

TEST_F(NodeProtocolTest, ClientThatNeverAnswersPingsIsClosedWithinIntervalPlusTimeout) {
  const size_t fast =
      cluster_.startNode({"--ping-interval-ms", "1000", "--pong-timeout-ms", "900"});
  ASSERT_TRUE(cluster_.waitHealthyNodes(2));
  WsClient answering(cluster_.wsUrl(fast));  // websocketpp answers pings by itself
  ASSERT_TRUE(answering.waitOpen(10s));
  auto greeting = answering.nextOfType("connected", 10s);
  ASSERT_TRUE(greeting.has_value());
  EXPECT_EQ((*greeting)["ping_interval"], 1);
  RawWs silent(cluster_.nodeAddress(fast), "/ws");  // reads, never answers a ping
  ASSERT_TRUE(silent.ok());
  const auto start = std::chrono::steady_clock::now();
  bool pinged = false;
  std::optional<int> code;
  while (!code && std::chrono::steady_clock::now() - start < 10s) {
    auto frame = silent.readFrame(10s);
    if (!frame) {
      break;
    }
    pinged |= frame->opcode == 0x9;
    if (frame->opcode == 0x8) {
      code = (static_cast<unsigned char>(frame->payload[0]) << 8) |
             static_cast<unsigned char>(frame->payload[1]);
    }
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(pinged) << "the node sends WebSocket pings";
  EXPECT_EQ(code, 4015);
  // interval 1 s + timeout 0.9 s, plus up to 1 s for the once-a-second ping sweep; the rest
  // is slack for a loaded machine (the default interval alone would be 30 s).
  EXPECT_LT(waited, 6s);
  auto stats = nlohmann::json::parse(httpGet(cluster_.nodeAddress(fast), "/stats").body);
  EXPECT_GE(stats["ping_timeouts"].get<int>(), 1);
  // The answering client outlived several ping rounds.
  answering.send(R"({"type":"ping","id":4})");
  EXPECT_TRUE(answering.nextOfType("pong", 10s).has_value());
}

TEST_F(NodeProtocolTest, FragmentedFramesAreReassembled) {
  RawWs raw(cluster_.nodeAddress(0), "/ws");
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.readFrame(10s).has_value());  // connected
  ASSERT_TRUE(raw.sendFrame(0x1, R"({"type":"pi)", false));
  ASSERT_TRUE(raw.sendFrame(0x0, R"(ng","id":41})", true));
  auto pong = raw.readFrame(10s);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(nlohmann::json::parse(pong->payload)["id"], 41);
}

TEST_F(NodeProtocolTest, OversizedFragmentedMessageClosesWith1009) {
  RawWs raw(cluster_.nodeAddress(0), "/ws");
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.sendFrame(0x1, std::string(40 * 1024, ' '), false));
  raw.sendFrame(0x0, std::string(40 * 1024, ' '), true);
  EXPECT_EQ(raw.waitCloseCode(10s), 1009);
}

TEST_F(NodeProtocolTest, SubscriptionLimitFromControlPlaneIsEnforced) {
  grpc::ClientContext ctx;
  herald::v1::SetLimitsRequest req;
  req.mutable_limits()->set_max_subscriptions_per_connection(2);
  herald::v1::SetLimitsResponse resp;
  ASSERT_TRUE(cluster_.api().SetLimits(&ctx, req, &resp).ok());
  ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));
  auto ws = connect();
  ws->send(R"({"type":"subscribe","channels":["a","b"],"id":1})");
  auto ok = ws->next(10s);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["type"], "reply");
  ws->send(R"({"type":"subscribe","channels":["c"],"id":2})");
  expectError(*ws, "limit_exceeded", 2);
  ws->send(R"({"type":"subscribe","channels":["a"],"id":3})");  // already held: no new slot
  auto again = ws->next(10s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ((*again)["type"], "reply");
  expectAlive(*ws);
}

TEST_F(NodeProtocolTest, NamespaceRulePushedByControlPlaneAppliesToNewSubscriptions) {
  grpc::ClientContext ctx;
  herald::v1::CreateNamespaceRequest req;
  req.mutable_namespace_()->set_name("balance");
  req.mutable_namespace_()->set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_OWNER);
  herald::v1::CreateNamespaceResponse resp;
  ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, req, &resp).ok());
  ASSERT_TRUE(cluster_.waitAckedVersion(resp.config_version()));
  auto ws = connect();
  ws->send(R"({"type":"subscribe","channels":["balance:0xabc"],"id":8})");
  expectError(*ws, "permission_denied", 8);
  ws->send(R"({"type":"subscribe","channels":["token:price"],"id":9})");
  auto reply = ws->next(10s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ((*reply)["type"], "reply") << "other namespaces stay public";
}

TEST_F(NodeProtocolTest, HttpEndpoints) {
  auto ws = connect("subscribe=a,b");
  auto health = httpGet(cluster_.nodeAddress(0), "/health");
  EXPECT_EQ(health.status, 200);
  auto h = nlohmann::json::parse(health.body);
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["control_connected"], true);
  EXPECT_EQ(h["control_address"], cluster_.controlAddress());

  auto stats = httpGet(cluster_.nodeAddress(0), "/stats");
  EXPECT_EQ(stats.status, 200);
  auto s = nlohmann::json::parse(stats.body);
  EXPECT_EQ(s["connections"], 1);
  EXPECT_EQ(s["subscriptions"], 2);
  EXPECT_EQ(s["channels"], 2);
  EXPECT_EQ(s["control_address"], cluster_.controlAddress());
  for (const char* key : {"node", "users", "messages_in", "messages_out", "connections_total"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }

  EXPECT_EQ(httpGet(cluster_.nodeAddress(0), "/nope").status, 404);
  WsClient wrong_path("ws://" + cluster_.nodeAddress(0) + "/other");
  EXPECT_FALSE(wrong_path.waitOpen(10s));
  EXPECT_EQ(wrong_path.httpStatus(), 404);
}

TEST_F(NodeProtocolTest, NodeShutdownClosesClientsWith1012) {
  auto ws = connect();
  cluster_.node(0).signal(SIGTERM);
  EXPECT_EQ(ws->waitClosed(10s), 1012);
  auto status = cluster_.node(0).waitExit(15s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << cluster_.node(0).output();
}

TEST_F(NodeProtocolTest, SigtermDrainsQueuedMessagesBefore1012AndLeavesRouting) {
  auto ws = connect("subscribe=drain:1");
  ASSERT_TRUE(cluster_.waitInterest("drain:1", 1));
  constexpr int kMessages = 300;
  for (int i = 1; i <= kMessages; ++i) {
    cluster_.publish("drain:1", std::to_string(i));
  }
  // Every publication has been queued to the connection by the node.
  ASSERT_TRUE(eventually(
      [&] {
        auto stats = nlohmann::json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body);
        return stats["messages_out"].get<int>() >= kMessages;
      },
      10s));
  cluster_.node(0).signal(SIGTERM);
  int expected = 1;
  while (expected <= kMessages) {
    auto frame = ws->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value()) << "message " << expected << " lost in the drain";
    ASSERT_EQ((*frame)["offset"], expected) << "out of order or duplicated";
    ++expected;
  }
  EXPECT_EQ(ws->waitClosed(10s), 1012) << "the close comes after every queued message";
  EXPECT_TRUE(cluster_.control().waitForOutput("is draining: removed from routing", 10s))
      << cluster_.control().output();
}

TEST_F(NodeProtocolTest, SilentNodeIsMarkedUnhealthyAndRecovers) {
  auto ws = connect("subscribe=hb:1");
  ASSERT_TRUE(cluster_.waitInterest("hb:1", 1));
  cluster_.node(0).signal(SIGSTOP);
  // node_timeout is 1.5 s in the test cluster.
  ASSERT_TRUE(eventually(
      [&] {
        grpc::ClientContext ctx;
        herald::v1::ListNodesResponse nodes;
        cluster_.api().ListNodes(&ctx, herald::v1::ListNodesRequest(), &nodes);
        return nodes.nodes_size() == 1 &&
               nodes.nodes(0).health() == herald::v1::NODE_HEALTH_UNHEALTHY;
      },
      10s));
  EXPECT_EQ(cluster_.publish("hb:1", "1").nodes(), 0u) << "an unhealthy node must not be routed to";
  cluster_.node(0).signal(SIGCONT);
  ASSERT_TRUE(cluster_.waitHealthyNodes(1)) << cluster_.node(0).output();
  ASSERT_TRUE(cluster_.waitInterest("hb:1", 1)) << "interest must be resynced";
  auto resp = cluster_.publish("hb:1", "2");
  EXPECT_EQ(resp.nodes(), 1u);
  auto frame = ws->nextOfType("message", 10s);
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ((*frame)["offset"], resp.offset());
}

}  // namespace
}  // namespace herald::testing
