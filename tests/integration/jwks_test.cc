// JWT keys from a JWKS URL (docs/security.md "Keys from a JWKS URL"), served by an HTTP server
// the test runs: keys rotate without a restart, the last good set survives an outage of the
// URL, a token naming an unknown kid makes the node fetch the set again, and a bad URL stops
// herald-control at start.
#include <httplib.h>

#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

// Serves a JWKS at /jwks.json; the test changes it, or makes it answer 503.
class JwksServer {
 public:
  JwksServer() {
    server_.Get("/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      ++fetches_;
      if (down_) {
        res.status = 503;
        return;
      }
      res.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~JwksServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/jwks.json"; }
  void serve(const std::vector<json>& keys) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = json{{"keys", keys}}.dump();
    down_ = false;
  }
  void setDown() {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = true;
  }
  int fetches() {
    std::lock_guard<std::mutex> lock(mu_);
    return fetches_;
  }

 private:
  std::mutex mu_;
  std::string body_ = R"({"keys":[]})";
  bool down_ = false;
  int fetches_ = 0;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

class JwksTest : public ::testing::Test {
 protected:
  void start(uint32_t refresh_seconds) {
    json c = defaultControlConfig();
    c["auth"]["allow_anonymous"] = false;
    c["auth"]["jwks_url"] = jwks_.url();
    c["auth"]["jwks_refresh_seconds"] = refresh_seconds;
    // The tests try tokens until the keys arrive: each refusal counts against the address.
    c["limits"] = {{"failed_auth_per_ip_per_minute", 100000}};
    cluster_ = std::make_unique<Cluster>(c);
    cluster_->startControl();
    cluster_->startNode();
    ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  }
  std::string token(const KeyPair& key, const std::string& kid) {
    return signToken("RS256", key.private_pem, {{"sub", "alice"}, {"exp", nowSeconds() + 600}},
                     kid);
  }
  // "connected", or the message of the error frame that refused the token.
  std::string tryConnect(const std::string& token) {
    WsClient ws(cluster_->wsUrl(0, "token=" + token));
    if (!ws.waitOpen(10s)) {
      return "no open: " + ws.failReason();
    }
    auto frame = ws.next(10s);
    if (!frame) {
      return "nothing";
    }
    return (*frame)["type"] == "connected" ? "connected" : frame->value("message", frame->dump());
  }
  bool eventuallyConnects(const std::string& token, std::chrono::milliseconds timeout) {
    return eventually([&] { return tryConnect(token) == "connected"; }, timeout);
  }

  JwksServer jwks_;
  std::unique_ptr<Cluster> cluster_;
  const KeyPair first_ = makeRsaKeyPair();
  const KeyPair second_ = makeEcKeyPair();
};

TEST_F(JwksTest, KeysRotateWithoutARestartAndTheLastGoodSetOutlivesAnOutage) {
  jwks_.serve({publicJwk(first_.public_pem, "k1")});
  start(/*refresh_seconds=*/1);
  ASSERT_TRUE(eventuallyConnects(token(first_, "k1"), 10s));
  // Rotation: k2 in, k1 out, picked up at the next refresh.
  jwks_.serve({publicJwk(second_.public_pem, "k2")});
  const auto ec_token = signToken("ES256", second_.private_pem,
                                  {{"sub", "alice"}, {"exp", nowSeconds() + 600}}, "k2");
  ASSERT_TRUE(eventuallyConnects(ec_token, 10s)) << tryConnect(ec_token);
  EXPECT_EQ(tryConnect(token(first_, "k1")), "unknown key id 'k1'");
  // The URL fails: the node keeps k2.
  const size_t mark = cluster_->node(0).output().size();
  jwks_.setDown();
  ASSERT_TRUE(cluster_->node(0).waitForOutput("could not be fetched: HTTP 503", 10s, mark));
  const int fetches = jwks_.fetches();
  ASSERT_TRUE(eventually([&] { return jwks_.fetches() >= fetches + 2; }, 10s));
  EXPECT_EQ(tryConnect(ec_token), "connected") << "the last good set stays in force";
  auto samples = parseSamples(httpGet(cluster_->nodeAddress(0), "/metrics").body);
  EXPECT_GE(samples["herald_node_jwks_fetches_total{result=\"failed\"}"], 2);
  EXPECT_EQ(samples["herald_node_jwks_keys"], 1);

  // Without the URL, its keys go at once; the static key stays.
  herald::v1::SetAuthSettingsRequest req;
  auto* auth = req.mutable_auth();
  auto* key = auth->add_keys();
  key->set_kid("test");
  key->set_algorithm("HS256");
  key->set_secret(kTestJwtSecret);
  herald::v1::SetAuthSettingsResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(cluster_->api().SetAuthSettings(&ctx, req, &resp).ok());
  ASSERT_TRUE(eventually([&] { return tryConnect(ec_token) == "unknown key id 'k2'"; }, 10s));
  const auto hs_token =
      signToken("HS256", kTestJwtSecret, {{"sub", "alice"}, {"exp", nowSeconds() + 600}}, "test");
  EXPECT_EQ(tryConnect(hs_token), "connected");
}

TEST_F(JwksTest, ATokenNamingAnUnknownKidMakesTheNodeFetchTheSetAgain) {
  jwks_.serve({publicJwk(first_.public_pem, "k1")});
  start(/*refresh_seconds=*/3600);
  ASSERT_TRUE(eventuallyConnects(token(first_, "k1"), 10s));
  const int fetches = jwks_.fetches();
  jwks_.serve({publicJwk(first_.public_pem, "k1"), publicJwk(second_.public_pem, "k2")});
  const auto ec_token = signToken("ES256", second_.private_pem,
                                  {{"sub", "alice"}, {"exp", nowSeconds() + 600}}, "k2");
  EXPECT_EQ(tryConnect(ec_token), "unknown key id 'k2'");
  // Long before the hourly refresh: at most 10 s after the last fetch.
  ASSERT_TRUE(eventuallyConnects(ec_token, 20s));
  // One fetch for the unknown kid, not one per token (a second may be asked by a try made
  // between that fetch and its keys reaching the shards, no sooner than 10 s later).
  EXPECT_LE(jwks_.fetches(), fetches + 2);
  EXPECT_GE(jwks_.fetches(), fetches + 1);
}

TEST_F(JwksTest, AJwksUrlThatIsNotHttpStopsHeraldControl) {
  json c = defaultControlConfig();
  c["auth"]["jwks_url"] = "grpc://127.0.0.1:1";
  TempDir dir;
  const std::string file = dir.path() + "/control.json";
  std::ofstream(file) << c.dump();
  auto r = runCommand(controlBinary(),
                      {"--config", file, "--data-dir", dir.path() + "/state", "--grpc-listen",
                       "127.0.0.1:0", "--http-listen", "off"},
                      30s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("jwks_url must be http://HOST[:PORT]/PATH or https://... (not grpc)"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace herald::testing
