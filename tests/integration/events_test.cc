// Events herald-control sends the backend (docs/hooks.md "Events"), received by a backend
// written here: after clients come and go, after a node is killed, across a link flap (no
// duplicates), and after the receiver was down for 30 s (every event, in order).
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/hook_signature.h"
#include "herald/v1/hooks.grpc.pb.h"
#include "integration/support/cluster.h"
#include "integration/support/event_receiver.h"
#include "integration/support/test_pki.h"
#include "integration/support/ws_client.h"
#include "support/jwt_tokens.h"

namespace herald::testing {
namespace {

using json = nlohmann::json;

// A TCP relay between a node and herald-control whose connections the test can cut: a link
// flap without killing either process.
class LinkRelay {
 public:
  explicit LinkRelay(uint16_t upstream_port) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listener_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~LinkRelay() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    cut();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : pumps_) {
      t.join();
    }
    for (int fd : fds_) {
      ::close(fd);
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Ends every relayed connection at once (both sides see it closed).
  void cut() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }

 private:
  void acceptLoop() {
    while (true) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) {
        return;
      }
      const int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(upstream_port_);
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(client);
        ::close(upstream);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(client);
      fds_.push_back(upstream);
      pumps_.emplace_back([client, upstream] { pump(client, upstream); });
      pumps_.emplace_back([client, upstream] { pump(upstream, client); });
    }
  }
  static void pump(int from, int to) {
    char buf[16384];
    while (true) {
      const ssize_t n = ::read(from, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      ssize_t off = 0;
      while (off < n) {
        const ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) {
          ::shutdown(from, SHUT_RDWR);
          return;
        }
        off += w;
      }
    }
    ::shutdown(to, SHUT_RDWR);
  }

  uint16_t upstream_port_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

std::string token(const std::string& user) {
  return signToken("HS256", kTestJwtSecret, {{"sub", user}, {"exp", nowSeconds() + 3600}}, "test");
}

uint16_t portOf(const std::string& address) {
  return static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

class EventsTest : public ::testing::Test {
 protected:
  json config(const std::string& url, const std::string& secret = "") {
    json c = defaultControlConfig();
    json endpoint = {{"name", "app"}, {"url", url}, {"timeout_ms", 2000}};
    if (!secret.empty()) {
      endpoint["secret"] = secret;
    }
    c["hooks"] = {{"endpoints", {endpoint}}};
    // The cluster-wide transitions; client.* and subscription.* are client_events_test's.
    c["events"] = {
        {"endpoints", {"app"}},
        {"types", {"user.online", "user.offline", "channel.occupied", "channel.vacated"}}};
    c["heartbeat_interval_ms"] = 250;
    c["node_timeout_ms"] = 2000;
    return c;
  }
  void start(const json& c, const std::vector<std::string>& node_args = {},
             const std::vector<std::string>& control_env = {}) {
    cluster_ = std::make_unique<Cluster>(c);
    cluster_->startControl({}, control_env);
    cluster_->startNode(node_args);
    ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  }
  std::unique_ptr<WsClient> connect(const std::string& user, const std::string& channels) {
    return connectGreeted(cluster_->wsUrl(0, "token=" + token(user) + "&subscribe=" + channels));
  }

  EventReceiver receiver_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(EventsTest, ClientsComingAndGoingAreReportedOncePerClusterTransition) {
  const std::string secret = "events-secret-0123456789";
  start(config(receiver_.url(), secret));
  auto alice = connect("alice", "chat:1");
  ASSERT_TRUE(receiver_.waitFor("user.online alice", 10s));
  ASSERT_TRUE(receiver_.waitFor("channel.occupied chat:1", 10s));
  auto alice_again = connect("alice", "chat:1");
  alice.reset();  // one of her two connections leaves: she is still online

  alice_again->close();
  ASSERT_TRUE(receiver_.waitFor("user.offline alice", 10s));
  ASSERT_TRUE(receiver_.waitFor("channel.vacated chat:1", 10s));
  EXPECT_EQ(receiver_.seen(),
            (std::vector<std::string>{"user.online alice", "channel.occupied chat:1",
                                      "channel.vacated chat:1", "user.offline alice"}))
      << "each transition once, in the order it happened";
  std::set<std::string> ids;
  for (const auto& e : receiver_.events()) {
    EXPECT_TRUE(ids.insert(e["id"].get<std::string>()).second) << "ids are unique";
    EXPECT_GT(e["time_ms"].get<int64_t>(), 1700000000000);
    EXPECT_FALSE(e["node"].get<std::string>().empty());
  }
  // Signed as hook calls are: HMAC-SHA256 of "t.body" under the endpoint's secret.
  const auto [signature, body] = receiver_.lastSignatureAndBody();
  const std::string stamp = signature.substr(2, signature.find(',') - 2);
  EXPECT_EQ(signature, hookSignature(secret, std::stoll(stamp), body));
}

TEST_F(EventsTest, AKilledNodesUsersAndChannelsAreReportedGoneExactlyOnce) {
  start(config(receiver_.url()));
  auto alice = connect("alice", "chat:1,chat:2");
  auto bob = connect("bob", "chat:2");
  ASSERT_TRUE(receiver_.waitFor("user.online bob", 10s));
  ASSERT_TRUE(receiver_.waitFor("channel.occupied chat:2", 10s));
  const auto killed_at = std::chrono::steady_clock::now();
  cluster_->node(0).stop(SIGKILL, 10s);
  // node_timeout_ms (2 s) plus delivery.
  for (const char* gone : {"user.offline alice", "user.offline bob", "channel.vacated chat:1",
                           "channel.vacated chat:2"}) {
    EXPECT_TRUE(receiver_.waitFor(gone, 10s)) << gone;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 8s);
  for (const auto& e : receiver_.events()) {
    if (e["type"] == "user.offline") {
      EXPECT_NE(e["reason"].get<std::string>().find("did not come back"), std::string::npos);
    }
  }
  // Past another node timeout: still exactly once each.
  std::this_thread::sleep_for(3s);
  for (const char* gone : {"user.offline alice", "user.offline bob", "channel.vacated chat:1",
                           "channel.vacated chat:2"}) {
    EXPECT_EQ(receiver_.count(gone), 1u) << gone;
  }
}

TEST_F(EventsTest, ALinkFlapReportsNothingTwice) {
  cluster_ = std::make_unique<Cluster>(config(receiver_.url()));
  cluster_->startControl();
  LinkRelay relay(portOf(cluster_->controlAddress()));
  cluster_->startNode({"--control", relay.address()});
  ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  auto alice = connect("alice", "chat:1");
  ASSERT_TRUE(receiver_.waitFor("channel.occupied chat:1", 10s));
  const size_t before = receiver_.events().size();

  const size_t log_mark = cluster_->node(0).output().size();
  relay.cut();
  ASSERT_TRUE(cluster_->node(0).waitForOutput("connected to control plane", 10s, log_mark))
      << "the node came back over a new link";
  // Back with the same users and channels; nothing may come of it, even past the node
  // timeout (2 s) that ends the old link's grace.
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  EXPECT_EQ(receiver_.events().size(), before)
      << "no offline, no second online: " << json(receiver_.seen()).dump();
  // The link still carries what changes.
  alice->close();
  EXPECT_TRUE(receiver_.waitFor("user.offline alice", 10s));
}

TEST_F(EventsTest, ALinkFlapReportsNoConnectionTwice) {
  json c = config(receiver_.url());
  c["events"].erase("types");  // client.* too
  cluster_ = std::make_unique<Cluster>(c);
  cluster_->startControl();
  LinkRelay relay(portOf(cluster_->controlAddress()));
  cluster_->startNode({"--control", relay.address()});
  ASSERT_TRUE(cluster_->waitHealthyNodes(1));
  auto alice = connect("alice", "chat:1");
  auto bob = connect("bob", "chat:1");
  const auto connections = [&] {
    std::vector<std::string> out;
    for (const auto& e : receiver_.events()) {
      if (e["type"].get<std::string>().rfind("client.", 0) == 0) {
        out.push_back(e["type"].get<std::string>() + " " + e.value("user", ""));
      }
    }
    return out;
  };
  ASSERT_TRUE(eventually([&] { return connections().size() == 2; }, 10s));

  const size_t log_mark = cluster_->node(0).output().size();
  relay.cut();
  ASSERT_TRUE(cluster_->node(0).waitForOutput("connected to control plane", 10s, log_mark));
  // Bob leaves after the flap: his close is reported once, with its code; alice stays.
  bob->close();
  ASSERT_TRUE(eventually([&] { return connections().size() == 3; }, 10s));
  std::this_thread::sleep_for(3s);  // past the old link's grace: nothing more
  EXPECT_EQ(connections(),
            (std::vector<std::string>{"client.connected alice", "client.connected bob",
                                      "client.disconnected bob"}));
  for (const auto& e : receiver_.events()) {
    if (e["type"] == "client.disconnected") {
      EXPECT_EQ(e["code"], 1000);
      EXPECT_EQ(e["reason"], "bye");
    }
  }
}

TEST_F(EventsTest, AReceiverDownFor30SecondsGetsEveryEventAfterwardsInOrder) {
  start(config(receiver_.url()));
  receiver_.setDown(true);
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    const std::string user = "u" + std::to_string(i);
    auto ws = connect(user, "room:" + std::to_string(i));
    // Reported before it leaves (else the two cancel out in one report): a node holds them.
    const auto nodesHolding = [&] {
      grpc::ClientContext ctx;
      herald::v1::SendToUserRequest req;
      req.set_user(user);
      req.set_data("0");
      herald::v1::SendToUserResponse resp;
      return cluster_->api().SendToUser(&ctx, req, &resp).ok() ? resp.nodes() : 99u;
    };
    ASSERT_TRUE(eventually([&] { return nodesHolding() == 1; }, 10s));
    ASSERT_TRUE(cluster_->waitInterest("room:" + std::to_string(i), 1));
    ws->close();
    ASSERT_TRUE(ws->waitClosed(10s).has_value());
    // herald-control heard the close before the next user comes (no node holds the user):
    // one report each, so the order across users is the order they happened (within one
    // report, additions go first).
    ASSERT_TRUE(eventually([&] { return nodesHolding() == 0; }, 10s));
  }
  ASSERT_TRUE(eventually([&] { return receiver_.attempts() >= 3; }, 20s))
      << "herald-control keeps trying";
  std::this_thread::sleep_for(30s);
  receiver_.setDown(false);
  ASSERT_TRUE(receiver_.waitFor("user.offline u4", 60s));  // the backoff is at most 30 s
  const auto seen = receiver_.seen();
  EXPECT_EQ(seen.size(), 20u) << json(seen).dump();
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i);
    auto at = [&](const std::string& what) {
      return std::find(seen.begin(), seen.end(), what) - seen.begin();
    };
    EXPECT_LT(at("user.online u" + n), at("user.offline u" + n));
    EXPECT_LT(at("channel.occupied room:" + n), at("channel.vacated room:" + n));
    if (i > 0) {
      EXPECT_LT(at("user.offline u" + std::to_string(i - 1)), at("user.online u" + n))
          << "in the order they happened";
    }
  }
}

class GrpcEventReceiver final : public herald::v1::HookService::Service {
 public:
  // With `pki`: over TLS, with its server certificate (grpcs://).
  explicit GrpcEventReceiver(const Pki* pki = nullptr) : tls_(pki != nullptr) {
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
  ~GrpcEventReceiver() override { server_->Shutdown(); }
  std::string url() const {
    return (tls_ ? "grpcs://localhost:" : "grpc://127.0.0.1:") + std::to_string(port_);
  }
  grpc::Status Events(grpc::ServerContext*, const herald::v1::EventBatch* batch,
                      herald::v1::EventBatchReply*) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : batch->events()) {
      types_.push_back(e.type() + " " + e.user() + e.channel());
    }
    return grpc::Status::OK;
  }
  std::vector<std::string> types() {
    std::lock_guard<std::mutex> lock(mu_);
    return types_;
  }

 private:
  const bool tls_;
  std::mutex mu_;
  std::vector<std::string> types_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(EventsTest, AGrpcReceiverGetsTheSameEvents) {
  GrpcEventReceiver grpc_receiver;
  start(config(grpc_receiver.url()));
  auto alice = connect("alice", "chat:1");
  // Reported before she leaves: a connection that comes and goes between two reports of its
  // node makes no online/offline pair (docs/hooks.md).
  ASSERT_TRUE(eventually([&] { return grpc_receiver.types().size() >= 2; }, 10s));
  alice->close();
  ASSERT_TRUE(eventually([&] { return grpc_receiver.types().size() >= 4; }, 10s));
  EXPECT_EQ(grpc_receiver.types(),
            (std::vector<std::string>{"user.online alice", "channel.occupied chat:1",
                                      "channel.vacated chat:1", "user.offline alice"}));
}

// grpcs://: herald-control checks the receiver's certificate against gRPC's roots, here
// replaced by the test's CA through GRPC_DEFAULT_SSL_ROOTS_FILE_PATH in its environment.
TEST_F(EventsTest, AGrpcsReceiverGetsEventsOverTls) {
  Pki pki;
  GrpcEventReceiver tls_receiver(&pki);
  start(config(tls_receiver.url()), {}, {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=" + pki.path("ca.pem")});
  auto alice = connect("alice", "chat:1");
  ASSERT_TRUE(eventually([&] { return tls_receiver.types().size() >= 2; }, 10s));
  EXPECT_EQ(tls_receiver.types(),
            (std::vector<std::string>{"user.online alice", "channel.occupied chat:1"}));
}

TEST_F(EventsTest, EventsNamingNoEndpointStopHeraldControl) {
  json c = config(receiver_.url());
  c["events"]["endpoints"] = {"nowhere"};
  TempDir dir;
  const std::string file = dir.path() + "/control.json";
  std::ofstream(file) << c.dump();
  auto r = runCommand(controlBinary(),
                      {"--config", file, "--data-dir", dir.path() + "/state", "--grpc-listen",
                       "127.0.0.1:0", "--http-listen", "off"},
                      30s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("events.endpoints names no hook endpoint: 'nowhere'"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace herald::testing
