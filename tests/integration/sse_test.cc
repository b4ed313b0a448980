// The Server-Sent Events fallback on real binaries (docs/protocol.md "Server-Sent Events"):
// GET /sse streams the WebSocket's frames as events whose ids carry every stream's position;
// Last-Event-ID resumes each channel exactly once (also on another node process); tokens in
// the query, an Authorization header or a cookie, with the same permissions and refusals;
// POST /sse publishes; heartbeats; slow, hostile and shut-down streams; and curl as a client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/raw_ws.h"
#include "integration/support/sse_client.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using nlohmann::json;

std::string token(const std::string& user) {
  return signToken("HS256", kTestJwtSecret, {{"sub", user}, {"exp", nowSeconds() + 3600}}, "test");
}

json authRequired() {
  json c = defaultControlConfig();
  c["auth"]["allow_anonymous"] = false;
  return c;
}

class SseTest : public ::testing::Test {
 protected:
  SseTest() : cluster_(authRequired()) {}

  void SetUp() override {
    cluster_.startControl();
    startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    createNamespace("news", herald::v1::SUBSCRIBE_RULE_PUBLIC, false);
    createNamespace("chat", herald::v1::SUBSCRIBE_RULE_AUTHENTICATED, true);
    createNamespace("inbox", herald::v1::SUBSCRIBE_RULE_OWNER, false);
  }

  // Pings every second, so that heartbeats and stall checks come quickly.
  size_t startNode() {
    return cluster_.startNode({"--ping-interval-ms", "1000", "--pong-timeout-ms", "500"});
  }

  void createNamespace(const std::string& name, herald::v1::SubscribeRule rule, bool publish) {
    herald::v1::Namespace ns;
    ns.set_name(name);
    ns.set_subscribe_rule(rule);
    ns.set_allow_client_publish(publish);
    ns.set_history_size(100);
    ns.set_history_ttl_seconds(600);
    ASSERT_TRUE(cluster_.createNamespace(ns));
  }

  std::unique_ptr<SseClient> stream(const std::string& query,
                                    const std::vector<std::string>& headers = {}, size_t node = 0) {
    return std::make_unique<SseClient>(cluster_.nodeAddress(node), "/sse?" + query, headers);
  }

  // A stream for `user` (token in the query) that got its `connected` event.
  std::unique_ptr<SseClient> greeted(const std::string& query, const std::string& user = "alice",
                                     const std::vector<std::string>& headers = {},
                                     size_t node = 0) {
    auto s = stream(query + "&token=" + token(user), headers, node);
    EXPECT_EQ(s->status(), 200) << s->head() << s->body();
    auto hello = s->next(10s);
    EXPECT_TRUE(hello.has_value());
    if (hello) {
      EXPECT_EQ(hello->frame()["type"], "connected") << hello->data;
      EXPECT_FALSE(hello->id.has_value()) << "only publications carry an id";
    }
    return s;
  }

  json stats(size_t node = 0) {
    return json::parse(httpGet(cluster_.nodeAddress(node), "/stats").body);
  }

  HttpExchange post(const std::string& body, const std::vector<std::string>& headers,
                    const std::string& query = "") {
    return httpRequest(cluster_.nodeAddress(0), "POST", "/sse" + query, headers, body);
  }

  Cluster cluster_;
};

TEST_F(SseTest, EventsAreTheWebSocketFramesWithPositionsAsIds) {
  auto ws = connectGreeted(cluster_.wsUrl(0, "token=" + token("bob") + "&subscribe=news:a"));
  auto sse = greeted("subscribe=news:a");
  EXPECT_NE(sse->head().find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(sse->head().find("Cache-Control: no-cache"), std::string::npos);
  EXPECT_GE(sse->retryMs(), 1000);
  EXPECT_LE(sse->retryMs(), 4000);
  ASSERT_TRUE(cluster_.waitInterest("news:a", 1));
  for (int i = 1; i <= 3; ++i) {
    cluster_.publish("news:a", json{{"n", i}, {"text", "line\nbreak"}}.dump(), "tick");
  }
  for (int i = 1; i <= 3; ++i) {
    auto event = sse->nextOfType("message", 10s);
    ASSERT_TRUE(event.has_value()) << "publication " << i;
    auto frame = ws->nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value());
    EXPECT_EQ(event->frame(), *frame) << "the same frame as the WebSocket's";
    EXPECT_EQ(event->frame()["data"]["n"], i);
    const std::string epoch = (*frame)["epoch"];
    EXPECT_EQ(event->id, "," + std::to_string(i) + ":" + epoch)
        << "no personal stream, then news:a's position";
  }
  EXPECT_EQ(stats()["sse_streams"], 1);
}

TEST_F(SseTest, LastEventIdResumesEveryChannelExactlyOnce) {
  std::string last_id;
  {
    auto sse = greeted("subscribe=news:a,news:b");
    ASSERT_TRUE(cluster_.waitInterest("news:b", 1));
    cluster_.publish("news:a", R"({"k":"a1"})");
    cluster_.publish("news:b", R"({"k":"b1"})");
    cluster_.publish("news:a", R"({"k":"a2"})");
    for (const char* want : {"a1", "b1", "a2"}) {
      auto event = sse->nextOfType("message", 10s);
      ASSERT_TRUE(event.has_value()) << want;
      EXPECT_EQ(event->frame()["data"]["k"], want);
      last_id = event->id.value_or("");
    }
  }
  ASSERT_TRUE(eventually([&] { return stats()["sse_streams"] == 0; }, 10s));
  // Published while the client was away.
  cluster_.publish("news:a", R"({"k":"a3"})");
  cluster_.publish("news:b", R"({"k":"b2"})");
  cluster_.publish("news:b", R"({"k":"b3"})");

  // As EventSource reconnects: the same URL, the last id in a header.
  auto sse = greeted("subscribe=news:a,news:b", "alice", {"Last-Event-ID: " + last_id});
  std::map<std::string, std::vector<std::string>> got;
  int recoveries = 0;
  while (recoveries < 2) {
    auto event = sse->next(10s);
    ASSERT_TRUE(event.has_value()) << "recovery did not finish";
    const json frame = event->frame();
    if (frame["type"] == "recovery") {
      EXPECT_TRUE(frame["recovered"].get<bool>()) << frame;
      ++recoveries;
    } else if (frame["type"] == "message") {
      got[frame["channel"]].push_back(frame["data"]["k"]);
    }
  }
  EXPECT_EQ(got["news:a"], (std::vector<std::string>{"a3"}));
  EXPECT_EQ(got["news:b"], (std::vector<std::string>{"b2", "b3"}));
  cluster_.publish("news:b", R"({"k":"b4"})");
  auto live = sse->nextOfType("message", 10s);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->frame()["data"]["k"], "b4");
  cluster_.publish("news:a", R"({"k":"a4"})");
  auto next = sse->nextOfType("message", 10s);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->frame()["data"]["k"], "a4");
  const std::string epoch_a = next->frame()["epoch"], epoch_b = live->frame()["epoch"];
  EXPECT_EQ(next->id, ",4:" + epoch_a + ",4:" + epoch_b) << "both channels' positions";
  EXPECT_FALSE(sse->nextOfType("message", 300ms).has_value()) << "nothing twice";
}

TEST_F(SseTest, AStreamResumesOnAnotherNodeProcessAfterItsNodeDied) {
  std::string last_id;
  {
    auto sse = greeted("subscribe=news:r");
    ASSERT_TRUE(cluster_.waitInterest("news:r", 1));
    for (int i = 1; i <= 3; ++i) {
      cluster_.publish("news:r", json{{"n", i}}.dump());
      auto event = sse->nextOfType("message", 10s);
      ASSERT_TRUE(event.has_value());
      last_id = *event->id;
    }
    cluster_.node(0).stop(SIGKILL, 10s);
    EXPECT_TRUE(sse->waitEnded(10s)) << "the stream ends with its node";
  }
  for (int i = 4; i <= 6; ++i) {
    cluster_.publish("news:r", json{{"n", i}}.dump());
  }
  const size_t second = startNode();
  ASSERT_TRUE(eventually(
      [&] { return httpGet(cluster_.nodeAddress(second), "/health").status == 200; }, 15s));
  // herald.js passes the id in the query when it opens a new EventSource itself.
  auto sse = greeted("subscribe=news:r&last_event_id=" + last_id, "alice", {}, second);
  std::vector<uint64_t> offsets;
  for (;;) {
    auto event = sse->next(10s);
    ASSERT_TRUE(event.has_value());
    const json frame = event->frame();
    if (frame["type"] == "recovery") {
      EXPECT_EQ(frame["missed"], 3);
      break;
    }
    if (frame["type"] == "message") {
      offsets.push_back(frame["offset"]);
    }
  }
  ASSERT_TRUE(cluster_.waitInterest("news:r", 1));
  cluster_.publish("news:r", json{{"n", 7}}.dump());
  auto live = sse->nextOfType("message", 10s);
  ASSERT_TRUE(live.has_value());
  offsets.push_back(live->frame()["offset"]);
  EXPECT_TRUE(contiguous(offsets, 4, 7));
}

TEST_F(SseTest, TokensComeFromTheQueryAHeaderOrACookie) {
  auto none = stream("subscribe=news:a");
  EXPECT_EQ(none->status(), 401) << none->head();
  EXPECT_EQ(json::parse(none->body())["code"], "unauthorized") << none->body();

  // herald.js asks for refusals as events: the code (4001) is what tells it to get a new token.
  auto as_event = stream("subscribe=news:a&close_events=1");
  ASSERT_EQ(as_event->status(), 200) << as_event->head();
  auto close = as_event->nextOfType("close", 10s);
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->frame()["code"], 4001);

  auto forged = stream("subscribe=news:a&token=" + token("alice") + "x");
  EXPECT_EQ(forged->status(), 401);
  EXPECT_EQ(json::parse(forged->body())["type"], "error") << forged->body();

  auto cookie = stream("subscribe=news:a", {"Cookie: theme=dark; herald_token=" + token("carol")});
  ASSERT_EQ(cookie->status(), 200) << cookie->body();
  EXPECT_EQ(cookie->next(10s)->frame()["user"], "carol");

  auto bearer = stream("subscribe=news:a", {"Authorization: Bearer " + token("dave")});
  ASSERT_EQ(bearer->status(), 200) << bearer->body();
  EXPECT_EQ(bearer->next(10s)->frame()["user"], "dave");

  // Permissions as on a WebSocket: another user's inbox is refused after `connected`.
  auto denied = greeted("subscribe=inbox:bob");
  auto error = denied->nextOfType("error", 10s);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->frame()["code"], "permission_denied");
  EXPECT_GE(stats()["auth_failures"], 1);
}

TEST_F(SseTest, APostPublishesAndItsAnswerIsTheResponse) {
  auto sse = greeted("subscribe=chat:room", "alice");
  ASSERT_TRUE(cluster_.waitInterest("chat:room", 1));
  const std::vector<std::string> headers = {"Content-Type: application/json",
                                            "Authorization: Bearer " + token("alice")};
  auto ok =
      post(R"({"type":"publish","id":7,"channel":"chat:room","data":{"text":"hi"}})", headers);
  ASSERT_EQ(ok.status, 200) << ok.head << ok.body;
  const json reply = json::parse(ok.body);
  EXPECT_EQ(reply["type"], "reply");
  EXPECT_EQ(reply["id"], 7);
  EXPECT_EQ(reply["offset"], 1);
  auto message = sse->nextOfType("message", 10s);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->frame()["data"]["text"], "hi");
  EXPECT_EQ(message->frame()["publisher"]["user"], "alice");

  // The same refusals a WebSocket frame gets, as HTTP statuses with the error frame.
  auto not_allowed = post(R"({"type":"publish","id":8,"channel":"news:a","data":1})", headers);
  EXPECT_EQ(not_allowed.status, 403) << not_allowed.body;
  EXPECT_EQ(json::parse(not_allowed.body)["code"], "permission_denied");
  EXPECT_EQ(json::parse(not_allowed.body)["id"], 8);
  auto anonymous = post(R"({"type":"publish","id":11,"channel":"chat:room","data":1})",
                        {"Content-Type: application/json"});
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(json::parse(anonymous.body)["id"], 11) << "the answer to that frame, by its id";
  auto subscribe = post(R"({"type":"subscribe","channels":["chat:room"]})", headers);
  EXPECT_EQ(subscribe.status, 400) << subscribe.body;
  auto garbage = post(R"({"type":"publish",)", headers);
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  auto deep = post(std::string(5000, '['), headers);
  EXPECT_EQ(deep.status, 400) << deep.body;
  auto form =
      post("type=publish", {"Content-Type: text/plain", "Cookie: herald_token=" + token("alice")});
  EXPECT_EQ(form.status, 415) << "a cross-site form cannot post with a visitor's cookie";
  auto put = httpRequest(cluster_.nodeAddress(0), "PUT", "/sse", headers, "{}");
  EXPECT_EQ(put.status, 405);
  EXPECT_FALSE(sse->nextOfType("message", 300ms).has_value()) << "refused ones were not sent";
  EXPECT_GE(stats()["sse_posts"], 6);

  // A POST's session subscribes to nothing its URL names, and its frame has the frame limit.
  auto with_query =
      httpRequest(cluster_.nodeAddress(0), "POST", "/sse?subscribe=chat:room&token=" + token("bob"),
                  {"Content-Type: application/json"},
                  R"({"type":"publish","id":9,"channel":"chat:room","data":2})");
  ASSERT_EQ(with_query.status, 200) << with_query.body;
  ASSERT_TRUE(sse->nextOfType("message", 10s).has_value());
  EXPECT_EQ(stats()["subscriptions"], 1) << "only the stream's";
  ASSERT_TRUE(
      cluster_.setLimits([](herald::v1::Limits* l) { l->set_max_inbound_frame_bytes(1024); }));
  auto big = post(
      json{{"type", "publish"}, {"channel", "chat:room"}, {"data", std::string(2000, 'x')}}.dump(),
      headers);
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_EQ(json::parse(big.body)["code"], "too_large");
}

TEST_F(SseTest, OnlyListedOriginsReadWithCookies) {
  // No allowed_origins: any page may read a stream, but without cookies (its token in the URL
  // or a header), and another site's request does not get to use the visitor's cookie.
  auto preflight =
      httpRequest(cluster_.nodeAddress(0), "OPTIONS", "/sse",
                  {"Origin: https://other.example", "Access-Control-Request-Method: POST"}, "");
  EXPECT_EQ(preflight.status, 204) << preflight.head;
  EXPECT_NE(preflight.head.find("Access-Control-Allow-Origin: *"), std::string::npos);
  EXPECT_EQ(preflight.head.find("Access-Control-Allow-Credentials"), std::string::npos);
  const std::string cookie = "Cookie: herald_token=" + token("alice");
  auto foreign = stream("subscribe=news:a", {"Origin: https://other.example", cookie});
  EXPECT_EQ(foreign->status(), 401) << "a cross-site page cannot ride the visitor's cookie";
  auto own = stream("subscribe=news:a", {"Origin: http://" + cluster_.nodeAddress(0), cookie});
  ASSERT_EQ(own->status(), 200) << own->body();
  EXPECT_EQ(own->next(10s)->frame()["user"], "alice");
  auto header_token =
      stream("subscribe=news:a&token=" + token("bob"), {"Origin: https://other.example"});
  ASSERT_EQ(header_token->status(), 200);
  EXPECT_NE(header_token->head().find("Access-Control-Allow-Origin: *"), std::string::npos);

  // A listed origin reads with credentials, its cookie included; others are refused.
  ASSERT_TRUE(cluster_.setLimits(
      [](herald::v1::Limits* l) { l->add_allowed_origins("https://app.example"); }));
  auto listed = stream("subscribe=news:a", {"Origin: https://app.example", cookie});
  ASSERT_EQ(listed->status(), 200) << listed->body();
  EXPECT_NE(listed->head().find("Access-Control-Allow-Origin: https://app.example"),
            std::string::npos);
  EXPECT_NE(listed->head().find("Access-Control-Allow-Credentials: true"), std::string::npos);
  EXPECT_EQ(listed->next(10s)->frame()["user"], "alice");
  auto refused = stream("subscribe=news:a&token=" + token("bob"), {"Origin: https://evil.example"});
  EXPECT_EQ(refused->status(), 403);
  auto injected = httpRequest(cluster_.nodeAddress(0), "GET", "/sse",
                              {"Origin: https://app.example\rX-Injected: 1"}, "");
  EXPECT_EQ(injected.head.find("X-Injected"), std::string::npos);
}

TEST_F(SseTest, AnIdleStreamGetsHeartbeats) {
  auto sse = greeted("subscribe=news:idle");
  EXPECT_FALSE(sse->next(3500ms).has_value()) << "no events on an idle stream";
  EXPECT_GE(sse->heartbeats(), 2) << "but a heartbeat event each ping interval (1 s here)";
  EXPECT_FALSE(sse->ended());
}

TEST_F(SseTest, HostileStreamsAreRefusedOrCutAndTheNodeServesOn) {
  // A Last-Event-ID that is not positions: reported, and the stream works from now.
  auto odd = greeted("subscribe=news:h", "alice", {"Last-Event-ID: ,1:x-y,9,9,9"});
  auto error = odd->nextOfType("error", 10s);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->frame()["code"], "bad_request");
  // A client talking up its stream is cut.
  auto chatty = greeted("subscribe=news:h");
  chatty->sendRaw(std::string(8192, 'x'));
  EXPECT_TRUE(chatty->waitEnded(10s));
  // Channel names and lists are checked as for a WebSocket.
  auto bad = greeted("subscribe=" + std::string(300, 'n'));
  auto refused = bad->nextOfType("error", 10s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->frame()["code"], "bad_request");
  ASSERT_TRUE(cluster_.waitInterest("news:h", 1));
  cluster_.publish("news:h", "{}");
  EXPECT_TRUE(odd->nextOfType("message", 10s).has_value());
  // /sse is no WebSocket endpoint, and a stream takes no body.
  RawWs upgrade(cluster_.nodeAddress(0), "/sse");
  EXPECT_EQ(upgrade.status(), 404);
  auto with_body = httpRequest(cluster_.nodeAddress(0), "GET", "/sse", {}, "{}");
  EXPECT_EQ(with_body.status, 400);
  EXPECT_EQ(httpGet(cluster_.nodeAddress(0), "/health").status, 200);
}

TEST_F(SseTest, AStreamThatStopsReadingMeetsTheSlowConsumerPolicy) {
  herald::v1::Namespace strict;
  strict.set_name("strict");
  strict.set_slow_consumer_policy(herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT);
  ASSERT_TRUE(cluster_.createNamespace(strict));
  ASSERT_TRUE(
      cluster_.setLimits([](herald::v1::Limits* l) { l->set_outbound_queue_bytes(256 * 1024); }));
  SseClient stalled(cluster_.nodeAddress(0), "/sse?subscribe=strict:x&token=" + token("alice"), {},
                    4096);
  ASSERT_EQ(stalled.status(), 200);
  ASSERT_TRUE(cluster_.waitInterest("strict:x", 1));
  // In batches, faster than a stuck stream is noticed (a ping interval without progress
  // closes it 4015): the kernel's buffers fill first, then the node's window and queue.
  const std::string pad = json{{"pad", std::string(16 * 1024, 'x')}}.dump();
  for (int batch = 0; batch < 20 && stats()["slow_consumers_closed"] == 0; ++batch) {
    herald::v1::PublishBatchRequest req;
    for (int i = 0; i < 100; ++i) {
      auto* p = req.add_publications();
      p->set_channel("strict:x");
      p->set_data(pad);
    }
    grpc::ClientContext ctx;
    herald::v1::PublishBatchResponse resp;
    ASSERT_TRUE(cluster_.api().PublishBatch(&ctx, req, &resp).ok());
  }
  EXPECT_TRUE(eventually([&] { return stats()["slow_consumers_closed"] == 1; }, 10s))
      << stats().dump();
  EXPECT_EQ(httpGet(cluster_.nodeAddress(0), "/health").status, 200);
}

TEST_F(SseTest, ARefusalThatPassesIsAStreamThatEndsWithRetryAndAClose) {
  // EventSource gives a stream up for good on any status but 200: a rate limit must not
  // stop a page's stream forever.
  ASSERT_TRUE(cluster_.setLimits(
      [](herald::v1::Limits* l) { l->set_new_connections_per_ip_per_second(1); }));
  std::optional<SseClient::Event> close;
  for (int i = 0; i < 10 && !close; ++i) {
    auto s = stream("subscribe=news:a&token=" + token("alice"));
    ASSERT_EQ(s->status(), 200) << s->head() << s->body();
    auto first = s->next(10s);
    ASSERT_TRUE(first.has_value());
    if (first->frame()["type"] == "close") {
      close = first;
      EXPECT_EQ(s->retryMs(), 10000);
      EXPECT_TRUE(s->waitEnded(10s));
    }
  }
  ASSERT_TRUE(close.has_value()) << "one stream in 10 within a second passed the limit of 1";
  EXPECT_EQ(close->frame()["code"], 4029);
  EXPECT_GE(stats()["refused_ip_rate"], 1);
}

TEST_F(SseTest, AShutdownEndsStreamsWithACloseEvent) {
  auto sse = greeted("subscribe=news:s");
  cluster_.node(0).signal(SIGTERM);
  auto close = sse->nextOfType("close", 15s);
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->frame()["code"], 1012);
  EXPECT_TRUE(sse->waitEnded(15s));
}

TEST_F(SseTest, CurlReadsTheStream) {
  Process curl("/usr/bin/curl", {"-sN", "http://" + cluster_.nodeAddress(0) +
                                            "/sse?subscribe=news:c&token=" + token("alice")});
  ASSERT_TRUE(curl.waitForOutput("\"type\":\"connected\"", 10s)) << curl.output();
  ASSERT_TRUE(cluster_.waitInterest("news:c", 1));
  cluster_.publish("news:c", R"({"via":"curl"})");
  ASSERT_TRUE(curl.waitForOutput(R"("data":{"via":"curl"})", 10s)) << curl.output();
  const std::string out = curl.output();
  EXPECT_NE(out.find("id: ,1:"), std::string::npos) << out;
  EXPECT_NE(out.find("retry: "), std::string::npos) << out;
  curl.stop(SIGTERM, 10s);
}

}  // namespace
}  // namespace herald::testing

namespace herald::testing {
namespace {

// A backend that takes connections and never answers: the connect hook waits its timeout.
class SilentBackend {
 public:
  SilentBackend() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentBackend() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(SseHookTest, AStreamLeftWhileTheConnectHookDecidesIsFreedOnce) {
  SilentBackend backend;
  json config = defaultControlConfig();
  config["auth"]["allow_anonymous"] = false;
  config["hooks"] = {{"endpoints",
                      {{{"name", "backend"},
                        {"url", "http://127.0.0.1:" + std::to_string(backend.port()) + "/hooks"},
                        {"timeout_ms", 3000}}}},
                     {"connect", "backend"}};
  Cluster cluster(config);
  cluster.startControl();
  cluster.startNode();
  ASSERT_TRUE(cluster.waitHealthyNodes(1));
  const auto stats = [&] { return json::parse(httpGet(cluster.nodeAddress(0), "/stats").body); };
  {
    // No token: the node asks the backend who this is, and the client leaves meanwhile.
    SseClient gone(cluster.nodeAddress(0), "/sse?subscribe=news:a", {}, 0, 300ms);
    EXPECT_EQ(gone.status(), 0) << "no answer while the hook decides";
    ASSERT_TRUE(eventually([&] { return stats()["sse_streams"] == 1; }, 10s));
  }
  EXPECT_TRUE(eventually([&] { return stats()["sse_streams"] == 0; }, 10s)) << stats().dump();
  EXPECT_TRUE(eventually([&] { return stats()["connections"] == 0; }, 10s)) << stats().dump();
  // The hook's late answer (a timeout) and the shard's sweeps find nothing of it.
  // One that waits out the hook's timeout: a refusal that passes (1013), so EventSource would
  // come back later.
  SseClient waiting(cluster.nodeAddress(0), "/sse?subscribe=news:a", {}, 0, 8s);
  ASSERT_EQ(waiting.status(), 200) << waiting.head() << waiting.body();
  auto close = waiting.next(5s);
  ASSERT_TRUE(close.has_value());
  EXPECT_EQ(close->frame()["type"], "close");
  EXPECT_EQ(close->frame()["code"], 1013);
  EXPECT_EQ(httpGet(cluster.nodeAddress(0), "/health").status, 200);
}

}  // namespace
}  // namespace herald::testing
