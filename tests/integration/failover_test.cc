// A node given several control-plane addresses (`--control A,B`) dials the first, fails over
// to the next when its control plane dies, round-robin, and keeps its WebSocket clients
// connected and served throughout. The two control planes are independent processes (each
// with its own data dir and in-memory state): what the node must carry over is its interest.

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

const std::string kChannel = "token:price";

// /health of a node, parsed (null when it does not answer).
nlohmann::json health(const std::string& node) {
  auto r = httpGet(node, "/health");
  if (r.status == 0) {
    return nullptr;
  }
  return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

// The node's link is up (configured) and on `control`.
bool linkedTo(const std::string& node, const std::string& control) {
  const auto h = health(node);
  return h.is_object() && h.value("control_connected", false) &&
         h.value("control_address", std::string()) == control;
}

// A loopback address where nothing listens (a port just released by the kernel).
std::string deadAddress() { return "127.0.0.1:" + std::to_string(freeLoopbackPort()); }

class FailoverTest : public ::testing::Test {
 protected:
  // A node like Cluster::startNode's, with a list of control planes.
  void startNode(const std::string& control_list) {
    node_ = std::make_unique<Process>(
        nodeBinary(), std::vector<std::string>{"--listen", "127.0.0.1:0", "--control", control_list,
                                               "--shards", "2", "--node-secret", kTestNodeSecret,
                                               "--reconnect-max-ms", "500"});
    auto address = node_->waitListening(30s);
    ASSERT_TRUE(address.has_value()) << node_->output();
    node_address_ = *address;
  }

  // Waits until the node is linked to `control`; returns how long that took.
  std::chrono::milliseconds waitLinkedTo(const std::string& control,
                                         std::chrono::milliseconds timeout = 10s) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually([&] { return linkedTo(node_address_, control); }, timeout))
        << "node not linked to " << control << "; /health: " << health(node_address_) << "\n"
        << node_->output();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  // Publishes `seq` through `control` and checks that `ws` receives it.
  void publishAndReceive(Cluster& control, WsClient& ws, int seq) {
    auto resp = control.publish(kChannel, "{\"seq\":" + std::to_string(seq) + "}", "price_update");
    EXPECT_EQ(resp.nodes(), 1u) << "the control plane must route to the node";
    auto frame = ws.nextOfType("message", 10s);
    ASSERT_TRUE(frame.has_value()) << "publication " << seq << " never arrived\n"
                                   << node_->output();
    EXPECT_EQ((*frame)["channel"], kChannel);
    EXPECT_EQ((*frame)["data"]["seq"], seq);
    EXPECT_EQ((*frame)["epoch"], resp.epoch());
    EXPECT_EQ((*frame)["offset"], resp.offset());
  }

  Cluster first_;
  Cluster second_;
  std::unique_ptr<Process> node_;
  std::string node_address_;
};

TEST_F(FailoverTest, NodeFailsOverToTheNextControlPlaneAndKeepsItsClients) {
  first_.startControl();
  second_.startControl();
  const std::string a = first_.controlAddress();
  const std::string b = second_.controlAddress();
  startNode(a + "," + b);

  // The first address is preferred at start.
  waitLinkedTo(a);
  ASSERT_TRUE(first_.waitHealthyNodes(1)) << node_->output();
  auto stats = nlohmann::json::parse(httpGet(node_address_, "/stats").body);
  EXPECT_EQ(stats["control_address"], a);
  EXPECT_EQ(stats["control_connected"], true);

  WsClient ws("ws://" + node_address_ + "/ws?subscribe=token%3Aprice");
  ASSERT_TRUE(ws.waitOpen(10s)) << ws.failReason();
  ASSERT_TRUE(ws.nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(first_.waitInterest(kChannel, 1));
  publishAndReceive(first_, ws, 1);

  // The first control plane dies: the node moves to the second one by itself.
  first_.stopControl(SIGKILL);
  const auto failover = waitLinkedTo(b);
  std::cout << "failover to the second control plane took " << failover.count() << " ms\n";
  EXPECT_LT(failover, 5s) << "a replica that was up died: the next one is tried at once";
  EXPECT_TRUE(node_->waitForOutput("connected to control plane " + b, 1s)) << node_->output();
  // Its Hello carried the interest: the client did not have to resubscribe.
  ASSERT_TRUE(second_.waitInterest(kChannel, 1)) << node_->output();
  publishAndReceive(second_, ws, 2);

  // Round-robin: when the second one dies too, the node goes back to the first (restarted on
  // the same port).
  first_.startControl();
  second_.stopControl(SIGKILL);
  waitLinkedTo(a);
  ASSERT_TRUE(first_.waitInterest(kChannel, 1)) << node_->output();
  publishAndReceive(first_, ws, 3);

  // The same connection all along.
  ws.send(R"({"type":"ping","id":7})");
  auto pong = ws.nextOfType("pong", 10s);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ((*pong)["id"], 7);
  EXPECT_EQ(nlohmann::json::parse(httpGet(node_address_, "/stats").body)["connections_total"], 1);
}

TEST_F(FailoverTest, ADeadFirstAddressAtStartIsSkipped) {
  second_.startControl();
  const std::string dead = deadAddress();
  const std::string b = second_.controlAddress();
  startNode(dead + "," + b);
  const auto took = waitLinkedTo(b);
  std::cout << "linked to the second address after " << took.count() << " ms\n";
  EXPECT_TRUE(node_->waitForOutput(
      "control plane " + dead + " unreachable or link closed; retrying with " + b, 1s))
      << node_->output();
  ASSERT_TRUE(second_.waitHealthyNodes(1)) << node_->output();
  WsClient ws("ws://" + node_address_ + "/ws?subscribe=token%3Aprice");
  ASSERT_TRUE(ws.waitOpen(10s)) << ws.failReason();
  ASSERT_TRUE(ws.nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(second_.waitInterest(kChannel, 1));
  publishAndReceive(second_, ws, 1);
}

TEST_F(FailoverTest, AHungFirstAddressIsGivenUpAfterTheDialTimeout) {
  first_.startControl();
  second_.startControl();
  const std::string a = first_.controlAddress();
  const std::string b = second_.controlAddress();
  // Its kernel still accepts connections, but nothing answers on them: without a dial
  // timeout gRPC would wait 20 s before the second address gets its turn.
  first_.control().signal(SIGSTOP);
  startNode(a + "," + b);
  const auto took = waitLinkedTo(b, 20s);
  std::cout << "linked to the second address after " << took.count() << " ms\n";
  EXPECT_TRUE(node_->waitForOutput("control plane " + a + " did not answer within 5 s", 1s))
      << node_->output();
  first_.control().signal(SIGCONT);
}

TEST_F(FailoverTest, InvalidControlListsStopTheNodeAtStart) {
  struct Case {
    std::string list;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:7070,,127.0.0.1:7071",
       "herald-node: control: empty address in '127.0.0.1:7070,,127.0.0.1:7071' (expected "
       "HOST:PORT[,HOST:PORT...])"},
      {"127.0.0.1:7070,nope",
       "herald-node: control: 'nope' is not HOST:PORT (e.g. 127.0.0.1:7070)"},
      {"127.0.0.1:7070,127.0.0.1:7070", "herald-node: control: '127.0.0.1:7070' is listed twice"},
  };
  for (const auto& c : cases) {
    auto result = runCommand(nodeBinary(), {"--listen", "127.0.0.1:0", "--control", c.list}, 30s);
    EXPECT_EQ(result.exit_code, 2) << c.list << "\n" << result.err;
    EXPECT_NE(result.err.find(c.error), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace herald::testing
