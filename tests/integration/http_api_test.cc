// herald-control's HTTP JSON API as a backend without gRPC uses it: the real binaries, a real
// HTTP client (cpp-httplib), a WebSocket client receiving what was published over HTTP, and the
// same mistakes made over gRPC and HTTP giving the same error code.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using Json = nlohmann::json;
// Answers keep their members' order (a publication's data comes back as it was sent).
using Answer = nlohmann::ordered_json;

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
    herald::v1::CreateNamespaceRequest create;
    create.mutable_namespace_()->set_name("prices");
    create.mutable_namespace_()->set_history_size(100);
    create.mutable_namespace_()->set_history_ttl_seconds(600);
    grpc::ClientContext ctx;
    herald::v1::CreateNamespaceResponse created;
    ASSERT_TRUE(cluster_.api().CreateNamespace(&ctx, create, &created).ok());
    ASSERT_TRUE(cluster_.waitAckedVersion(created.config_version()));
  }

  std::unique_ptr<httplib::Client> client() {
    auto c = std::make_unique<httplib::Client>("http://" + cluster_.controlHttpAddress());
    c->set_read_timeout(30, 0);
    return c;
  }

  // POSTs `body` to `path` with `key` (none when empty); returns status and parsed JSON.
  std::pair<int, Answer> post(const std::string& path, const std::string& body,
                              const std::string& key = kTestAdminKey) {
    httplib::Headers headers;
    if (!key.empty()) {
      headers.emplace("Authorization", "Bearer " + key);
    }
    auto res = client()->Post(path, headers, body, "application/json");
    if (!res) {
      ADD_FAILURE() << "no HTTP answer from " << path << ": " << httplib::to_string(res.error());
      return {0, Answer()};
    }
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
    return {res->status, Answer::parse(res->body, nullptr, false)};
  }

  std::string createKey(herald::v1::ApiKeyRole role) {
    herald::v1::CreateApiKeyRequest req;
    req.set_name("http");
    req.set_role(role);
    grpc::ClientContext ctx;
    herald::v1::CreateApiKeyResponse resp;
    EXPECT_TRUE(cluster_.api().CreateApiKey(&ctx, req, &resp).ok());
    return resp.secret();
  }

  // Sends `request` as is on a new connection and returns everything until the server closes
  // it (10 s at most): herald-control answers one request per connection.
  std::string rawHttp(const std::string& request) {
    const std::string& address = cluster_.controlHttpAddress();
    const size_t colon = address.rfind(':');
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return "connect failed";
    }
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
      answer.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return answer;
  }

  Cluster cluster_;
};

TEST_F(HttpApiTest, PublishedDataIsTheJsonValueTheClientReceives) {
  WsClient ws(cluster_.wsUrl(0, "subscribe=prices%3Aeur"));
  ASSERT_TRUE(ws.waitOpen(10s)) << ws.failReason();
  ASSERT_TRUE(ws.nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(cluster_.waitInterest("prices:eur", 1));

  auto [status, body] = post("/api/publish", R"({"channel":"prices:eur","event":"tick",)"
                                             R"("data":{"z":1.25,"a":[1,"two",null]}})");
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body["offset"], "1") << "uint64 fields are JSON strings, as in proto3's JSON";
  EXPECT_EQ(body["nodes"], 1);
  EXPECT_EQ(body["duplicate"], false);
  EXPECT_FALSE(body["epoch"].get<std::string>().empty());

  auto message = ws.nextOfType("message", 10s);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ((*message)["event"], "tick");
  EXPECT_EQ((*message)["data"], Json::parse(R"({"z":1.25,"a":[1,"two",null]})"));

  // History gives the data back as JSON too, members in the order they were sent.
  auto [hs, history] = post("/api/history", R"({"channel":"prices:eur"})");
  ASSERT_EQ(hs, 200) << history;
  ASSERT_EQ(history["publications"].size(), 1u) << history;
  EXPECT_EQ(history["publications"][0]["data"].dump(), R"({"z":1.25,"a":[1,"two",null]})");
  EXPECT_EQ(history["offset"], "1");

  // The data's text is kept as sent: a number beyond double's precision is not rounded.
  ASSERT_EQ(post("/api/publish",
                 R"({"channel":"prices:eur","data":{"big":123456789012345678901234567890}})")
                .first,
            200);
  auto raw = client()->Post("/api/history", {{"Authorization", "Bearer " + kTestAdminKey}},
                            R"({"channel":"prices:eur"})", "application/json");
  ASSERT_TRUE(raw);
  EXPECT_NE(raw->body.find(R"("data":{"big":123456789012345678901234567890})"), std::string::npos)
      << raw->body;
  ASSERT_TRUE(ws.nextOfType("message", 10s).has_value());

  // A string is a JSON string, not JSON text to be parsed.
  ASSERT_EQ(post("/api/publish", R"({"channel":"prices:eur","data":"{\"x\":1}"})").first, 200);
  auto text = ws.nextOfType("message", 10s);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ((*text)["data"], "{\"x\":1}");
}

TEST_F(HttpApiTest, BatchBroadcastUserAndIdempotencyBehaveAsOnGrpc) {
  const std::string token = signToken("HS256", kTestJwtSecret, {{"sub", "alice"}}, "test");
  WsClient ws(cluster_.wsUrl(0, "subscribe=prices%3Ausd&token=" + token));
  ASSERT_TRUE(ws.waitOpen(10s)) << ws.failReason();
  ASSERT_TRUE(ws.nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(cluster_.waitInterest("prices:usd", 1));

  auto [bs, batch] = post("/api/publish_batch",
                          R"({"publications":[{"channel":"prices:usd","data":{"n":1}},)"
                          R"({"channel":"prices:usd","data":{"n":2},"idempotency_key":"k1"}]})");
  ASSERT_EQ(bs, 200) << batch;
  ASSERT_EQ(batch["results"].size(), 2u);
  EXPECT_EQ(batch["results"][1]["offset"], "2");
  for (int n : {1, 2}) {
    auto m = ws.nextOfType("message", 10s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ((*m)["data"]["n"], n);
  }
  // The same idempotency key again: answered as a duplicate, not delivered twice.
  auto [ds, dup] =
      post("/api/publish", R"({"channel":"prices:usd","data":{"n":2},"idempotency_key":"k1"})");
  ASSERT_EQ(ds, 200) << dup;
  EXPECT_EQ(dup["duplicate"], true);
  EXPECT_EQ(dup["offset"], "2");

  ASSERT_EQ(post("/api/send_to_user", R"({"user":"alice","data":{"for":"alice"}})").first, 200);
  auto personal = ws.nextOfType("message", 10s);
  ASSERT_TRUE(personal.has_value());
  EXPECT_EQ((*personal)["data"]["for"], "alice") << *personal;

  auto [as, all] = post("/api/broadcast", R"({"data":{"everyone":true}})");
  ASSERT_EQ(as, 200) << all;
  EXPECT_EQ(all["nodes"], 1);
  auto broadcast = ws.nextOfType("message", 10s);
  ASSERT_TRUE(broadcast.has_value());
  EXPECT_EQ((*broadcast)["data"]["everyone"], true);

  auto [ps, presence] = post("/api/presence", R"({"channel":"prices:usd"})");
  ASSERT_EQ(ps, 200) << presence;
  EXPECT_EQ(presence["connections"], "1");
  ASSERT_EQ(presence["entries"].size(), 1u);
  EXPECT_EQ(presence["entries"][0]["user"], "alice");

  auto [xs, disconnected] = post("/api/disconnect", R"({"user":"alice","code":4100})");
  ASSERT_EQ(xs, 200) << disconnected;
  EXPECT_EQ(ws.waitClosed(10s), 4100);
}

TEST_F(HttpApiTest, ReadsAnswerGetAndPostWithAReaderKey) {
  const std::string reader = createKey(herald::v1::API_KEY_ROLE_READER);
  for (const char* path :
       {"/api/info", "/api/nodes", "/api/stats", "/api/channels", "/api/namespaces"}) {
    auto res = client()->Get(path, {{"Authorization", "Bearer " + reader}});
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    EXPECT_EQ(post(path, "", reader).first, 200) << path;
  }
  auto res = client()->Get("/api/nodes", {{"Authorization", "Bearer " + reader}});
  const Json nodes = Json::parse(res->body);
  ASSERT_EQ(nodes["nodes"].size(), 1u) << nodes;
  EXPECT_EQ(nodes["nodes"][0]["health"], "NODE_HEALTH_HEALTHY");
  EXPECT_EQ(nodes["nodes"][0]["address"], cluster_.nodeAddress(0));
  auto stats =
      Json::parse(client()->Get("/api/stats", {{"Authorization", "Bearer " + reader}})->body);
  EXPECT_EQ(stats["healthy_nodes"], 1) << stats;
}

// The same mistake over gRPC and over HTTP: the same code, and the HTTP status docs/api.md maps
// it to.
TEST_F(HttpApiTest, MistakesGetTheGrpcCodeAndItsHttpStatus) {
  const std::string reader = createKey(herald::v1::API_KEY_ROLE_READER);
  struct Case {
    std::string what;
    std::string key;
    std::string body;
    grpc::StatusCode grpc_code;  // what gRPC answers for the same request
    const char* code;
    int status;
  };
  const std::vector<Case> cases = {
      {"no key", "", R"({"channel":"a","data":1})", grpc::StatusCode::UNAUTHENTICATED,
       "UNAUTHENTICATED", 401},
      {"unknown key", "hk_not_a_key_not_a_key_not_a_key", R"({"channel":"a","data":1})",
       grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED", 401},
      {"reader publishing", reader, R"({"channel":"a","data":1})",
       grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED", 403},
      {"bad channel", kTestAdminKey, R"({"channel":"no spaces","data":1})",
       grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT", 400},
      {"no data", kTestAdminKey, R"({"channel":"a"})", grpc::StatusCode::INVALID_ARGUMENT,
       "INVALID_ARGUMENT", 400},
  };
  for (const Case& c : cases) {
    herald::v1::PublishRequest req;
    Json body = Json::parse(c.body);
    req.set_channel(body["channel"]);
    if (body.contains("data")) {
      req.set_data(body["data"].dump());
    }
    auto stub = controlStub(cluster_.controlAddress(), c.key);
    grpc::ClientContext ctx;
    herald::v1::PublishResponse resp;
    EXPECT_EQ(stub->Publish(&ctx, req, &resp).error_code(), c.grpc_code) << c.what;

    auto [status, error] = post("/api/publish", c.body, c.key);
    EXPECT_EQ(status, c.status) << c.what << ": " << error;
    EXPECT_EQ(error["error"]["code"], c.code) << c.what;
    EXPECT_EQ(error["error"]["status"], c.status) << c.what;
    EXPECT_FALSE(error["error"]["message"].get<std::string>().empty()) << c.what;
  }
  // Mistakes only HTTP can make.
  EXPECT_EQ(post("/api/publish", "not json").first, 400);
  EXPECT_EQ(post("/api/publish", "[1]").first, 400);
  EXPECT_EQ(post("/api/publish", R"({"channel":"a","dta":1})").first, 400) << "misspelt field";
  EXPECT_EQ(post("/api/publish", std::string(10000, '[') + std::string(10000, ']')).first, 400)
      << "deeper than 64 levels";
  auto [ns, missing] = post("/api/no_such_thing", "{}");
  EXPECT_EQ(ns, 404);
  EXPECT_EQ(missing["error"]["code"], "NOT_FOUND");
}

TEST_F(HttpApiTest, BodiesAreBoundedAndKeylessBodiesAreNotRead) {
  // Over the limit: 413 from the declared length, before any of the body is read.
  const std::string big =
      rawHttp("POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kTestAdminKey +
              "\r\nContent-Length: " + std::to_string(18 << 20) + "\r\n\r\n{\"channel\":");
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  EXPECT_NE(big.find("RESOURCE_EXHAUSTED"), std::string::npos) << big;

  // Without a key: refused from the headers, the connection closed; what the body held is
  // never taken for a request.
  const std::string smuggled = "GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string answer = rawHttp("POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                     std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "one answer only: " << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  EXPECT_TRUE(cluster_.control().running());
}

// Shapes of request httplib would read without a bound, or that no route takes, are refused
// from the headers.
TEST_F(HttpApiTest, UnboundedOrUnexpectedRequestShapesAreRefused) {
  const std::string key = "Authorization: Bearer " + kTestAdminKey + "\r\n";
  struct Case {
    std::string what;
    std::string request;
    const char* status;
  };
  const std::vector<Case> cases = {
      {"chunked body",
       "POST /api/publish HTTP/1.1\r\nHost: x\r\n" + key +
           "Transfer-Encoding: chunked\r\n\r\n5\r\n{}{}{\r\n0\r\n\r\n",
       "HTTP/1.1 411"},
      {"compressed body",
       "POST /api/publish HTTP/1.1\r\nHost: x\r\n" + key +
           "Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
       "HTTP/1.1 415"},
      {"multipart body",
       "POST /api/publish HTTP/1.1\r\nHost: x\r\n" + key +
           "Content-Type: multipart/form-data; boundary=b\r\n"
           "Content-Length: 2\r\n\r\n{}",
       "HTTP/1.1 415"},
      {"PUT", "PUT /api/publish HTTP/1.1\r\nHost: x\r\n" + key + "Content-Length: 2\r\n\r\n{}",
       "HTTP/1.1 405"},
      {"POST to /metrics", "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
       "HTTP/1.1 404"},
      {"Range", "GET /dashboard HTTP/1.1\r\nHost: x\r\nRange: bytes=0-,0-,0-\r\n\r\n",
       "HTTP/1.1 416"},
      {"GET with a body",
       "GET /api/info HTTP/1.1\r\nHost: x\r\n" + key + "Content-Length: 2\r\n\r\n{}",
       "HTTP/1.1 400"},
      {"keyless, waiting for 100 Continue",
       "POST /api/publish HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
       "Content-Length: 1000000\r\n\r\n",
       "HTTP/1.1 401"},
      {"a key with control characters",
       "POST /api/publish HTTP/1.1\r\nHost: x\r\n"
       "Authorization: Bearer a\x01b\r\nContent-Length: 2\r\n\r\n{}",
       "HTTP/1.1 401"},
  };
  for (const Case& c : cases) {
    const std::string answer = rawHttp(c.request);
    EXPECT_EQ(answer.rfind(c.status, 0), 0u) << c.what << ":\n" << answer;
    EXPECT_NE(answer.find("\"error\""), std::string::npos) << c.what << ":\n" << answer;
  }
  EXPECT_TRUE(cluster_.control().running());
}

}  // namespace
}  // namespace herald::testing
