// Hooks as a backend sees them (docs/hooks.md): a backend written here, over HTTP and over
// gRPC, answering client `rpc` frames that reach it through real nodes.
#include <httplib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/json_text.h"
#include "herald/v1/hooks.grpc.pb.h"
#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/test_pki.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

// The backend's rpc methods: echo (data back as sent, with who asked), fail (an application
// error), slow (answers after 1.5 s), broken (HTTP 500), garbage (not a reply).
std::string answerRpc(const std::string& body, int* status) {
  std::string_view members[2];
  constexpr std::string_view kNames[] = {"method", "data"};
  if (!acceptJson(body) || !findMembers(body, kNames, 2, members)) {
    *status = 400;
    return "{}";
  }
  const json request = json::parse(body);
  const std::string method = request["method"];
  if (method == "echo") {
    return R"({"data":{"user":)" + request["caller"]["user"].dump() + R"(,"node":)" +
           request["caller"]["node"].dump() + R"(,"got":)" + std::string(members[1]) + "}}";
  }
  if (method == "fail") {
    return R"({"error":{"code":"not_yours","message":"order 7 belongs to someone else"}})";
  }
  if (method == "slow") {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return R"({"data":"late"})";
  }
  if (method == "broken") {
    *status = 500;
    return "oops";
  }
  return "not a reply";
}

class HttpBackend {
 public:
  HttpBackend() {
    server_.Post("/herald/rpc", [this](const httplib::Request& req, httplib::Response& res) {
      ++calls_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_signature_ = req.get_header_value("X-Herald-Signature");
        last_body_ = req.body;
      }
      int status = 200;
      res.set_content(answerRpc(req.body, &status), "application/json");
      res.status = status;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~HttpBackend() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/herald"; }
  int calls() const { return calls_.load(); }
  std::pair<std::string, std::string> lastSignatureAndBody() {
    std::lock_guard<std::mutex> lock(mu_);
    return {last_signature_, last_body_};
  }

 private:
  std::mutex mu_;
  std::string last_signature_;
  std::string last_body_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> calls_{0};
};

class GrpcBackend final : public herald::v1::HookService::Service {
 public:
  // With `pki`: over TLS, with its server certificate (grpcs://).
  explicit GrpcBackend(const Pki* pki = nullptr) : tls_(pki != nullptr) {
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (pki != nullptr) {
      grpc::SslServerCredentialsOptions options;
      options.pem_key_cert_pairs.push_back({pki->read("server.key"), pki->read("server.pem")});
      credentials = grpc::SslServerCredentials(options);
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", credentials, &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~GrpcBackend() override { server_->Shutdown(); }
  std::string url() const {
    return (tls_ ? "grpcs://localhost:" : "grpc://127.0.0.1:") + std::to_string(port_);
  }

  grpc::Status Rpc(grpc::ServerContext*, const herald::v1::RpcHookRequest* req,
                   herald::v1::RpcHookReply* reply) override {
    if (req->method() == "fail") {
      reply->mutable_error()->set_code("not_yours");
      reply->mutable_error()->set_message("no");
      return grpc::Status::OK;
    }
    if (req->method() == "crash") {
      return grpc::Status(grpc::StatusCode::INTERNAL, "backend bug");
    }
    reply->set_data(R"({"via":"grpc","user":")" + req->caller().user() + R"(","got":)" +
                    req->data() + "}");
    return grpc::Status::OK;
  }

 private:
  const bool tls_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

json hooksConfig(const std::string& url, uint32_t timeout_ms, uint32_t max_in_flight,
                 const std::string& secret = "") {
  json config = defaultControlConfig();
  json endpoint = {{"name", "backend"},
                   {"url", url},
                   {"timeout_ms", timeout_ms},
                   {"max_in_flight", max_in_flight}};
  if (!secret.empty()) {
    endpoint["secret"] = secret;
  }
  config["hooks"] = {{"endpoints", {endpoint}}, {"rpc", "backend"}};
  return config;
}

// HMAC-SHA256 in hex, computed here with OpenSSL directly, as a backend would.
std::string hmacHex(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof(byte), "%02x", mac[i]);
    hex += byte;
  }
  return hex;
}

class HooksTest : public ::testing::Test {
 protected:
  void start(const json& config) {
    cluster_ = std::make_unique<Cluster>(config);
    cluster_->startControl();
    cluster_->startNode();
    ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  }
  std::unique_ptr<WsClient> connect(const std::string& query = "") {
    return connectGreeted(cluster_->wsUrl(0, query));
  }
  // Sends an rpc frame and returns its answer (the `rpc` or `error` frame with its id).
  static json rpc(WsClient& ws, int id, const std::string& method, const std::string& data) {
    ws.send(R"({"type":"rpc","id":)" + std::to_string(id) + R"(,"method":")" + method +
            R"(","data":)" + data + "}");
    return ws.nextAnswer(10s);
  }

  HttpBackend http_;
  GrpcBackend grpc_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(HooksTest, HttpRpcRoundTripKeepsTheDataAsSent) {
  start(hooksConfig(http_.url(), 1000, 64));
  auto ws = connect();
  const std::string raw = R"({"order":12345678901234567890123,"list":[1,2]})";
  ws->send(R"({"type":"rpc","id":41,"method":"echo","data":)" + raw + "}");
  auto text = ws->nextText(10s);
  ASSERT_TRUE(text.has_value());
  EXPECT_NE(text->find(R"("got":)" + raw), std::string::npos)
      << "a number no double holds comes back as sent: " << *text;
  const json reply = json::parse(*text);
  EXPECT_EQ(reply["type"], "rpc");
  EXPECT_EQ(reply["id"], 41);
  EXPECT_EQ(reply["data"]["user"], "") << "anonymous";
  EXPECT_FALSE(reply["data"]["node"].get<std::string>().empty());
}

// grpcs://: the node checks the backend's certificate against gRPC's roots, which
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH replaces (here with the test's own CA).
TEST_F(HooksTest, GrpcsHooksVerifyTheBackendsCertificate) {
  Pki pki;
  GrpcBackend tls(&pki);
  cluster_ = std::make_unique<Cluster>(hooksConfig(tls.url(), 3000, 64));
  cluster_->startControl();
  cluster_->startNode({}, {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=" + pki.path("ca.pem")});
  cluster_->startNode();  // gRPC's own roots only: the test CA is not among them
  ASSERT_TRUE(cluster_->waitHealthyNodes(2));
  WsClient trusting(cluster_->wsUrl(0));
  ASSERT_TRUE(trusting.waitOpen(10s));
  ASSERT_TRUE(trusting.nextOfType("connected", 10s).has_value());
  const json answer = rpc(trusting, 1, "echo", "7");
  EXPECT_EQ(answer["type"], "rpc") << answer.dump();
  EXPECT_EQ(answer["data"]["via"], "grpc");
  EXPECT_EQ(answer["data"]["got"], 7);

  WsClient doubting(cluster_->wsUrl(1));
  ASSERT_TRUE(doubting.waitOpen(10s));
  ASSERT_TRUE(doubting.nextOfType("connected", 10s).has_value());
  const json refused = rpc(doubting, 1, "echo", "7");
  EXPECT_EQ(refused["type"], "error") << refused.dump();
  EXPECT_EQ(refused["code"], "unavailable") << "an unverified backend is not called";
}

TEST_F(HooksTest, TheBackendsErrorsAndFailuresReachTheClientAsDocumented) {
  start(hooksConfig(http_.url(), 500, 64));
  auto ws = connect();
  const json fail = rpc(*ws, 1, "fail", "{}");
  EXPECT_EQ(fail["type"], "rpc");
  EXPECT_EQ(fail["id"], 1);
  EXPECT_EQ(fail["error"]["code"], "not_yours");
  EXPECT_EQ(fail["error"]["message"], "order 7 belongs to someone else");

  for (const std::string method : {"slow", "broken", "garbage"}) {
    const json failed = rpc(*ws, 2, method, "null");
    EXPECT_EQ(failed["type"], "error") << method << ": " << failed.dump();
    EXPECT_EQ(failed["id"], 2);
    EXPECT_EQ(failed["code"], "unavailable") << method;
  }
  // The connection is fine after all that.
  EXPECT_EQ(rpc(*ws, 3, "echo", "1")["data"]["got"], 1);
  const json bad = rpc(*ws, 4, "no spaces allowed", "1");
  EXPECT_EQ(bad["code"], "bad_request");

  // An operator sees the same on the node's /metrics.
  auto samples = parseSamples(httpGet(cluster_->nodeAddress(0), "/metrics").body);
  EXPECT_EQ(samples["herald_node_rpc_calls_total{result=\"answered\"}"], 1);
  EXPECT_EQ(samples["herald_node_rpc_calls_total{result=\"backend_error\"}"], 1);
  EXPECT_EQ(samples["herald_node_rpc_calls_total{result=\"unavailable\"}"], 3);
  EXPECT_EQ(samples["herald_node_rpc_calls_total{result=\"refused\"}"], 0);
  EXPECT_EQ(samples["herald_node_rpc_duration_seconds_count"], 2);
}

TEST_F(HooksTest, CallsBeyondTheEndpointsSlotsAreRefusedNotQueuedForever) {
  start(hooksConfig(http_.url(), 3000, 1));
  auto ws = connect();
  ws->send(R"({"type":"rpc","id":1,"method":"slow"})");
  // The slow call holds the only slot: the next is refused while it runs.
  const json refused = [&] {
    for (int attempt = 0;; ++attempt) {
      const json r = rpc(*ws, 2, "echo", "1");
      if (r["type"] == "error" || attempt == 50) {
        return r;
      }
    }
  }();
  EXPECT_EQ(refused["id"], 2);
  EXPECT_EQ(refused["code"], "limit_exceeded") << refused.dump();
  auto late = ws->nextOfType("rpc", 10s);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ((*late)["id"], 1);
  EXPECT_EQ((*late)["data"], "late");
}

TEST_F(HooksTest, WithASecretEveryCallIsSignedOverTimestampAndBody) {
  const std::string secret = "hook-secret-0123456789";
  start(hooksConfig(http_.url(), 1000, 64, secret));
  auto ws = connect();
  ASSERT_EQ(rpc(*ws, 1, "echo", R"({"x":1})")["type"], "rpc");
  const auto [signature, body] = http_.lastSignatureAndBody();
  const size_t comma = signature.find(",sha256=");
  ASSERT_EQ(signature.rfind("t=", 0), 0u) << signature;
  ASSERT_NE(comma, std::string::npos) << signature;
  const std::string stamp = signature.substr(2, comma - 2);
  EXPECT_LE(std::llabs(std::stoll(stamp) - nowSeconds()), 60) << "a current Unix time";
  EXPECT_EQ(signature.substr(comma + 8), hmacHex(secret, stamp + "." + body));
}

// A connection's calls are bounded on their own, a client leaving with calls out harms no
// one, and a node stopping does not wait for its backend.
TEST_F(HooksTest, CallsInFlightAreBoundedPerConnectionAndDieWithIt) {
  start(hooksConfig(http_.url(), 3000, 64));
  ASSERT_TRUE(cluster_->setLimits([](herald::v1::Limits* l) {
    l->set_client_messages_per_minute(6000);
    l->set_client_message_burst(100);
  }));
  auto ws = connect();
  for (int id = 1; id <= 16; ++id) {
    ws->send(R"({"type":"rpc","id":)" + std::to_string(id) + R"(,"method":"slow"})");
  }
  const json refused = rpc(*ws, 17, "echo", "1");
  EXPECT_EQ(refused["id"], 17);
  EXPECT_EQ(refused["code"], "limit_exceeded") << refused.dump();
  ws.reset();  // leaves with 16 calls out

  auto next = connect();
  EXPECT_EQ(rpc(*next, 1, "echo", "2")["data"]["got"], 2) << "the node is fine";
  next->send(R"({"type":"rpc","id":2,"method":"slow"})");
  // The node stops with a call out (its hooks cancelled, not waited for), and cleanly.
  const auto status = cluster_->node(0).stop(SIGTERM, 20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << cluster_->node(0).output();
}

TEST_F(HooksTest, GrpcRpcRoundTrip) {
  start(hooksConfig(grpc_.url(), 1000, 64));
  auto ws = connect();
  const json reply = rpc(*ws, 9, "echo", R"({"a":[true,null]})");
  EXPECT_EQ(reply["type"], "rpc");
  EXPECT_EQ(reply["data"]["via"], "grpc");
  EXPECT_EQ(reply["data"]["got"], json::parse(R"({"a":[true,null]})"));
  EXPECT_EQ(rpc(*ws, 10, "fail", "0")["error"]["code"], "not_yours");
  const json crashed = rpc(*ws, 11, "crash", "0");
  EXPECT_EQ(crashed["code"], "unavailable");
  EXPECT_NE(crashed["message"].get<std::string>().find("backend bug"), std::string::npos);
}

TEST_F(HooksTest, WithoutAnRpcHookTheClientIsToldSo) {
  start(defaultControlConfig());
  auto ws = connect();
  const json reply = rpc(*ws, 5, "echo", "1");
  EXPECT_EQ(reply["type"], "error");
  EXPECT_EQ(reply["code"], "not_found");
  EXPECT_EQ(http_.calls(), 0);
}

// docs/examples/hook_backend.py, as docs/hooks.md tells a reader to run it.
TEST_F(HooksTest, TheDocumentedPythonBackendAnswersAsTheDocsSay) {
  // The documented config, pointed at this run's port.
  std::ifstream file(std::string(HERALD_SOURCE_DIR) + "/docs/examples/hooks-control.json");
  json config = json::parse(file);
  const std::string secret = config["hooks"]["endpoints"][0]["secret"];
  Process backend("/usr/bin/python3",
                  {std::string(HERALD_SOURCE_DIR) + "/docs/examples/hook_backend.py", "--port", "0",
                   "--secret", secret});
  auto address = backend.waitListening(30s, "hook backend listening on ");
  ASSERT_TRUE(address.has_value()) << backend.output();
  config["hooks"]["endpoints"][0]["url"] = "http://" + *address + "/herald";
  config["auth"]["keys"] = defaultControlConfig()["auth"]["keys"];
  start(config);

  // connect: the session cookie names the user.
  auto alice = std::make_unique<WsClient>(
      cluster_->wsUrl(0),
      std::map<std::string, std::string>{{"Cookie", "theme=dark; session=alice-session"}});
  ASSERT_TRUE(alice->waitOpen(10s));
  auto connected = alice->nextOfType("connected", 10s);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ((*connected)["user"], "alice");
  EXPECT_EQ((*connected)["info"]["name"], "Alice");
  auto stranger = std::make_unique<WsClient>(
      cluster_->wsUrl(0), std::map<std::string, std::string>{{"Cookie", "session=forged"}});
  ASSERT_TRUE(stranger->waitOpen(10s));
  EXPECT_EQ(stranger->nextAnswer(10s)["backend"]["code"], "bad_session");
  EXPECT_EQ(stranger->waitClosed(10s), 4003);
  auto bob = connect("token=" + signToken("HS256", kTestJwtSecret,
                                          {{"sub", "bob"}, {"exp", nowSeconds() + 3600}}, "test"));

  // rpc
  EXPECT_EQ(rpc(*alice, 1, "whoami", "null")["data"]["user"], "alice");
  const json order = rpc(*alice, 2, "orders.get", R"({"id":7})");
  EXPECT_EQ(order["data"]["total"], 12) << order.dump();
  EXPECT_EQ(rpc(*bob, 3, "orders.get", R"({"id":7})")["error"]["code"], "not_yours");
  EXPECT_EQ(rpc(*bob, 4, "orders.get", R"({"id":8})")["error"]["code"], "not_found");

  // subscribe: orders:7 is alice's.
  alice->send(R"({"type":"subscribe","id":5,"channels":["orders:7","chat:lobby"]})");
  const json mine = alice->nextAnswer(10s);
  EXPECT_EQ(mine["type"], "reply") << mine.dump();
  EXPECT_EQ(mine["info"]["orders:7"]["owner"], "alice");
  bob->send(R"({"type":"subscribe","id":6,"channels":["orders:7"]})");
  EXPECT_EQ(bob->nextAnswer(10s)["backend"]["code"], "not_yours");

  // publish: stamped by the backend, spam refused.
  bob->send(R"({"type":"publish","id":7,"channel":"chat:lobby","data":{"text":"buy spam"}})");
  EXPECT_EQ(bob->nextAnswer(10s)["backend"]["code"], "refused");
  ASSERT_TRUE(cluster_->waitInterest("chat:lobby", 1));
  bob->send(R"({"type":"publish","id":8,"channel":"chat:lobby","data":{"text":"hi"}})");
  EXPECT_EQ(bob->nextAnswer(10s)["type"], "reply");
  auto message = alice->nextOfType("message", 10s);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ((*message)["data"], json({{"text", "hi"}, {"from", "bob"}}));

  // events: herald-control told the backend who came online.
  EXPECT_TRUE(backend.waitForOutput("event user.online alice", 10s)) << backend.output();
  EXPECT_TRUE(backend.waitForOutput("event channel.occupied chat:lobby", 10s));
  // ...and of each connection, and of subscriptions in chat (subscription_events).
  EXPECT_TRUE(backend.waitForOutput("event client.connected ", 10s));
  EXPECT_TRUE(backend.waitForOutput(" alice chat:lobby", 10s)) << backend.output();
}

// The same backend refuses calls signed with another secret (it verifies in Python, an
// implementation of its own), and the client hears the backend failed.
TEST_F(HooksTest, ABackendRefusesCallsSignedWithAnotherSecret) {
  Process backend("/usr/bin/python3",
                  {std::string(HERALD_SOURCE_DIR) + "/docs/examples/hook_backend.py", "--port", "0",
                   "--secret", "the-backends-own-secret"});
  auto address = backend.waitListening(30s, "hook backend listening on ");
  ASSERT_TRUE(address.has_value()) << backend.output();
  start(hooksConfig("http://" + *address + "/herald", 2000, 64, "not-the-backends-secret"));
  auto ws = connect();
  const json refused = rpc(*ws, 1, "whoami", "null");
  EXPECT_EQ(refused["code"], "unavailable") << refused.dump();
  EXPECT_NE(refused["message"].get<std::string>().find("HTTP 401"), std::string::npos)
      << refused.dump();
}

TEST_F(HooksTest, ABadHooksSectionStopsHeraldControlWithTheReason) {
  const json config = hooksConfig("gopher://x", 1000, 64);
  TempDir dir;
  const std::string file = dir.path() + "/control.json";
  std::ofstream(file) << config.dump();
  auto r = runCommand(controlBinary(),
                      {"--config", file, "--data-dir", dir.path() + "/state", "--grpc-listen",
                       "127.0.0.1:0", "--http-listen", "off"},
                      30s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("hooks"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("http://, https://, grpc:// or grpcs://"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace herald::testing
