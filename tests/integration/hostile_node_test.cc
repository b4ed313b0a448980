// Hostile input against a real herald-node at its default settings: legacy handshakes, deep
// JSON before authentication, HTTP bodies, ping floods. After each the node is alive, its
// memory stayed bounded (VmHWM), the refusal was counted, and a bystander still receives.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
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

// A plain TCP connection for requests no HTTP or WebSocket library would send.
class RawTcp {
 public:
  explicit RawTcp(const std::string& host_port) {
    const size_t colon = host_port.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
    ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawTcp() { ::close(fd_); }

  // False once the peer stopped taking bytes (it answered and closed).
  bool send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the peer closes or the deadline; returns what arrived.
  std::string readAll(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        if (out.find("\r\n\r\n") != std::string::npos && !response_has_more(out)) {
          return out;
        }
        continue;
      }
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  bool connected() const { return connected_; }

 private:
  // A response whose Content-Length says more body is coming.
  static bool response_has_more(const std::string& response) {
    const size_t end = response.find("\r\n\r\n");
    const size_t at = response.find("Content-Length: ");
    if (at == std::string::npos || at > end) {
      return false;
    }
    return response.size() - end - 4 < std::strtoul(response.c_str() + at + 16, nullptr, 10);
  }

  int fd_ = -1;
  bool connected_ = false;
};

int statusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) {
    return 0;
  }
  return std::atoi(response.c_str() + 9);
}

std::string upgradeRequest(const std::vector<std::string>& headers) {
  std::string request =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\n";
  for (const auto& h : headers) {
    request += h + "\r\n";
  }
  return request + "\r\n";
}

json controlConfig(bool anonymous) {
  json c = defaultControlConfig();
  c["auth"]["allow_anonymous"] = anonymous;
  return c;
}

class HostileNodeTest : public ::testing::Test {
 protected:
  explicit HostileNodeTest(bool anonymous = true) : cluster_(controlConfig(anonymous)) {}

  void SetUp() override {
    // ASan keeps freed memory in a quarantine (256 MB by default), which would hide what the
    // node really holds: keep it small for the node started here.
    const char* asan = std::getenv("ASAN_OPTIONS");
    ::setenv(
        "ASAN_OPTIONS",
        (std::string(asan ? asan : "") + ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64")
            .c_str(),
        1);
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    bystander_ = std::make_unique<WsClient>(
        cluster_.wsUrl(0, std::string("subscribe=token:price") + bystanderQuery()));
    ASSERT_TRUE(bystander_->waitOpen(10s)) << bystander_->failReason();
    ASSERT_TRUE(bystander_->nextOfType("connected", 10s));
    ASSERT_TRUE(cluster_.waitInterest("token:price", 1));
  }

  virtual std::string bystanderQuery() { return ""; }

  json stats() { return json::parse(httpGet(cluster_.nodeAddress(0), "/stats").body); }
  long nodeHwmKb() { return cluster_.node(0).statusKb("VmHWM"); }

  // The node lives, and a well-behaved client still gets a publication.
  void expectNodeServing() {
    ASSERT_TRUE(cluster_.node(0).running()) << cluster_.node(0).output();
    auto sent = cluster_.publish("token:price", "{\"still\":true}");
    auto frame = bystander_->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value()) << cluster_.node(0).output();
    EXPECT_EQ((*frame)["offset"], sent.offset());
  }

  Cluster cluster_;
  std::unique_ptr<WsClient> bystander_;
};

TEST_F(HostileNodeTest, OnlyRfc6455Version13Upgrades) {
  const long hwm_before = nodeHwmKb();
  struct Case {
    const char* what;
    std::vector<std::string> headers;
    std::string after;  // bytes after the headers
    int status;
  };
  const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
  const std::vector<Case> cases = {
      {"Hixie-76 (hybi-00)",
       {"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5", "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00",
        "Origin: http://a.example"},
       "^n:ds[4U",
       426},
      {"Hixie-76 without key3", {"Sec-WebSocket-Key1: 1 2", "Sec-WebSocket-Key2: 3 4"}, "", 426},
      {"no version at all", {key}, "", 426},
      {"hybi-08", {key, "Sec-WebSocket-Version: 8"}, "", 426},
      {"hybi-07", {key, "Sec-WebSocket-Version: 7"}, "", 426},
      {"version 14", {key, "Sec-WebSocket-Version: 14"}, "", 426},
      {"version garbage", {key, "Sec-WebSocket-Version: thirteen"}, "", 426},
      {"version 13 without a key", {"Sec-WebSocket-Version: 13"}, "", 400},
  };
  for (const auto& c : cases) {
    RawTcp tcp(cluster_.nodeAddress(0));
    ASSERT_TRUE(tcp.connected());
    ASSERT_TRUE(tcp.send(upgradeRequest(c.headers) + c.after));
    const std::string response = tcp.readAll(10s);
    EXPECT_EQ(statusOf(response), c.status) << c.what << ":\n" << response;
    if (c.status == 426) {
      EXPECT_NE(response.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos)
          << c.what << ":\n"
          << response;
    }
  }
  // Hixie-76 had no message-size limit: an unterminated message after its handshake was
  // buffered without bound. Now the handshake is refused and nothing after it is read.
  RawTcp legacy(cluster_.nodeAddress(0));
  legacy.send(upgradeRequest({"Sec-WebSocket-Key1: 1 2", "Sec-WebSocket-Key2: 3 4"}) + "12345678");
  const std::string chunk(1 << 20, 'a');
  legacy.send(std::string(1, '\0'));
  for (int i = 0; i < 32 && legacy.send(chunk); ++i) {
  }
  EXPECT_EQ(statusOf(legacy.readAll(10s)), 426);
  expectNodeServing();
  EXPECT_LT(nodeHwmKb() - hwm_before, 16 * 1024) << "the node buffered a legacy message";
  // A real RFC 6455 client is unaffected.
  RawWs good(cluster_.nodeAddress(0), "/ws");
  EXPECT_EQ(good.status(), 101);
}

TEST_F(HostileNodeTest, DeepJsonIsRefusedWithBadRequestAndTheConnectionLives) {
  // 60,000 levels crashed the node once max_inbound_frame_bytes allowed the frame.
  ASSERT_TRUE(
      cluster_.setLimits([](herald::v1::Limits* l) { l->set_max_inbound_frame_bytes(1 << 20); }));
  WsClient ws(cluster_.wsUrl(0));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  const size_t depth = 500000;
  ws.send(R"({"type":"publish","channel":"chat:1","id":9,"data":)" + std::string(depth, '[') +
          std::string(depth, ']') + "}");
  json answer = ws.nextAnswer(10s);
  EXPECT_EQ(answer["type"], "error") << answer;
  EXPECT_EQ(answer["code"], "bad_request") << answer;
  EXPECT_NE(answer["message"].get<std::string>().find("deeper than 64"), std::string::npos);
  // Nesting in any member, objects too.
  ws.send(R"({"type":"subscribe","channels":["a"],"since":)" + std::string(100000, '{'));
  EXPECT_EQ(ws.nextAnswer(10s)["code"], "bad_request");
  ws.send(R"({"type":"ping","id":1})");
  auto pong = ws.nextOfType("pong", 10s);
  ASSERT_TRUE(pong.has_value()) << "the connection lives on";
  EXPECT_EQ(stats()["json_too_deep"], 2);
  expectNodeServing();
}

TEST_F(HostileNodeTest, RateLimitedDeepFramesAreNotParsed) {
  ASSERT_TRUE(cluster_.setLimits([](herald::v1::Limits* l) {
    l->set_max_inbound_frame_bytes(1 << 20);
    l->set_client_message_burst(1);
    l->set_client_messages_per_minute(1);
  }));
  WsClient ws(cluster_.wsUrl(0));
  ASSERT_TRUE(ws.waitOpen(10s));
  ASSERT_TRUE(ws.nextOfType("connected", 10s));
  ws.send(R"({"type":"ping"})");  // the burst
  ASSERT_TRUE(ws.nextOfType("pong", 10s));
  const std::string deep = R"({"id":4,"type":"publish","data":)" + std::string(300000, '[');
  for (int i = 0; i < 3; ++i) {
    ws.send(deep);
    json answer = ws.nextAnswer(10s);
    EXPECT_EQ(answer["code"], "rate_limited") << answer;
    EXPECT_FALSE(answer.contains("id")) << "a frame that is not JSON has no id to echo";
  }
  ws.send(R"({"type":"ping","id":4})");
  json limited = ws.nextAnswer(10s);
  EXPECT_EQ(limited["code"], "rate_limited");
  EXPECT_EQ(limited["id"], 4) << "a rate-limited frame's id is still echoed";
  expectNodeServing();
}

TEST_F(HostileNodeTest, HttpBodiesAreReadUpToFourKiBThen413) {
  const long hwm_before = nodeHwmKb();
  for (const char* target : {"/", "/health", "/stats", "/ws", "/demo"}) {
    RawTcp tcp(cluster_.nodeAddress(0));
    ASSERT_TRUE(tcp.connected());
    tcp.send(std::string("POST ") + target +
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20000000\r\n\r\n");
    // Keep sending body bytes until the node stops taking them (it answered and closed).
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 320 && tcp.send(chunk); ++i) {
    }
    EXPECT_EQ(statusOf(tcp.readAll(10s)), 413) << target;
  }
  // A body within the limit reaches the routes, which take none: 405.
  RawTcp small(cluster_.nodeAddress(0));
  small.send("POST /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(statusOf(small.readAll(10s)), 405);
  // Oversized headers: 431, never a 5xx.
  RawTcp headers(cluster_.nodeAddress(0));
  headers.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + std::string(20000, 'h') +
               "\r\n\r\n");
  EXPECT_EQ(statusOf(headers.readAll(10s)), 431);
  expectNodeServing();
  EXPECT_LT(nodeHwmKb() - hwm_before, 16 * 1024) << "the node buffered request bodies";
}

TEST_F(HostileNodeTest, PingFloodFromAClientThatDoesNotReadIsBounded) {
  const long hwm_before = nodeHwmKb();
  // A tiny receive buffer and no reads: every pong the node queues stays in the node.
  RawWs flood(cluster_.nodeAddress(0), "/ws", {}, "", 4096);
  ASSERT_TRUE(flood.ok());
  const std::string payload(125, 'p');
  for (int i = 0; i < 300000; ++i) {
    ASSERT_TRUE(flood.sendFrame(0x9, payload)) << "sent " << i;
  }
  ASSERT_TRUE(eventually([&] { return stats()["pongs_withheld"].get<uint64_t>() > 250000; }, 60s))
      << stats();
  expectNodeServing();
  // 300,000 pongs are 39 MB of frames, more with websocketpp's per-message overhead.
  EXPECT_LT(nodeHwmKb() - hwm_before, 12 * 1024) << "pongs piled up in the node";
}

// Without anonymous access: frames before a token are read no further than their type.
class HostileNodeBeforeAuthTest : public HostileNodeTest {
 protected:
  HostileNodeBeforeAuthTest() : HostileNodeTest(/*anonymous=*/false) {}
  std::string bystanderQuery() override {
    return "&token=" + signToken("HS256", kTestJwtSecret, {{"sub", "bystander"}});
  }
};

TEST_F(HostileNodeBeforeAuthTest, DeepFramesBeforeAuthenticationAreRefused) {
  ASSERT_TRUE(
      cluster_.setLimits([](herald::v1::Limits* l) { l->set_max_inbound_frame_bytes(1 << 20); }));
  WsClient ws(cluster_.wsUrl(0));
  ASSERT_TRUE(ws.waitOpen(10s));
  ws.send(R"({"type":"publish","channel":"chat:1","data":)" + std::string(500000, '[') +
          std::string(500000, ']') + "}");
  json answer = ws.nextAnswer(10s);
  EXPECT_EQ(answer["code"], "bad_request") << answer;
  // A shallow frame other than authenticate: refused on its type alone.
  ws.send(R"({"type":"subscribe","channels":["token:price"],"id":2})");
  answer = ws.nextAnswer(10s);
  EXPECT_EQ(answer["code"], "unauthorized") << answer;
  EXPECT_EQ(answer["id"], 2);
  // A token far longer than any real one is refused without being parsed.
  ws.send(json{{"type", "authenticate"}, {"token", std::string(100000, 'a')}, {"id", 3}}.dump());
  answer = ws.nextAnswer(10s);
  EXPECT_EQ(answer["code"], "unauthorized") << answer;
  EXPECT_GE(stats()["tokens_too_long"].get<int>(), 1);
  // And the connection can still authenticate properly.
  ws.send(json{
      {"type", "authenticate"},
      {"token", signToken("HS256", kTestJwtSecret, {{"sub", "late"}})},
      {"id",
       4}}.dump());
  auto connected = ws.nextOfType("connected", 10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["user"], "late");
  expectNodeServing();
}

}  // namespace
}  // namespace herald::testing
