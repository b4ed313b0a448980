// The node's /metrics as Prometheus reads it: the real binaries, real clients, and Debian's
// promtool checking the exposition; the figures must match what the test did.
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

constexpr char kPromtool[] = "/usr/bin/promtool";  // Debian's `prometheus` (install-deps.sh)

// "name{labels} value" lines of the text format, keyed by everything before the value.
std::map<std::string, double> parseSamples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const size_t space = line.rfind(' ');
    if (space != std::string::npos) {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
  }
  return out;
}

// Runs `promtool check metrics` on `text`; returns its exit status and what it printed.
std::pair<int, std::string> promtoolCheck(const TempDir& dir, const std::string& text) {
  const std::string input = dir.path() + "/metrics.txt";
  std::ofstream(input) << text;
  const std::string cmd = std::string(kPromtool) + " check metrics < " + input + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    return {-1, "popen failed"};
  }
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) {
    output.append(buf, n);
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(1));
  }

  std::string scrape() {
    auto response = httpGet(cluster_.nodeAddress(0), "/metrics");
    EXPECT_EQ(response.status, 200);
    return response.body;
  }

  Cluster cluster_;
  TempDir dir_;
};

TEST_F(MetricsTest, NodeMetricsPassPromtoolAndCountWhatClientsDid) {
  constexpr int kClients = 3;
  constexpr int kMessages = 4;
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<WsClient>(cluster_.wsUrl(0, "subscribe=news%3Aa")));
    ASSERT_TRUE(clients.back()->waitOpen(10s)) << clients.back()->failReason();
    auto connected = clients.back()->nextOfType("connected", 10s);
    ASSERT_TRUE(connected.has_value());
  }
  ASSERT_TRUE(cluster_.waitInterest("news:a", 1));
  for (int i = 0; i < kMessages; ++i) {
    cluster_.publish("news:a", "{}");
  }
  for (auto& client : clients) {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(client->nextOfType("message", 10s).has_value());
    }
  }
  // A token the node cannot verify: counted once, under its own reason.
  WsClient bad_token(cluster_.wsUrl(0, "token=not.a.jwt"));
  ASSERT_TRUE(bad_token.waitOpen(10s)) << bad_token.failReason();
  ASSERT_TRUE(bad_token.waitClosed(10s).has_value());
  // A frame the node answers with an error.
  clients[0]->send("not json");
  ASSERT_EQ(clients[0]->nextOfType("error", 10s).value()["code"], "bad_request");

  const std::string text = scrape();
  auto [status, output] = promtoolCheck(dir_, text);
  EXPECT_EQ(status, 0) << "promtool check metrics:\n" << output << "\n" << text;

  auto samples = parseSamples(text);
  EXPECT_EQ(samples["herald_node_connections"], kClients);
  EXPECT_EQ(samples["herald_node_connections_opened_total"], kClients + 1);
  EXPECT_EQ(samples["herald_node_auth_failures_total{reason=\"invalid_token\"}"], 1);
  EXPECT_EQ(samples["herald_node_auth_failures_total{reason=\"token_too_long\"}"], 0);
  EXPECT_EQ(samples["herald_node_subscriptions"], kClients);
  EXPECT_EQ(samples["herald_node_channels"], 1);
  EXPECT_EQ(samples["herald_node_messages_delivered_total"], kClients * kMessages);
  EXPECT_EQ(samples["herald_node_messages_received_total"], 1);
  EXPECT_EQ(samples["herald_node_error_frames_total"], 2);  // the bad token and the bad frame
  EXPECT_EQ(samples["herald_node_control_connected"], 1);
  EXPECT_GE(samples["herald_node_config_version"], 1);
  EXPECT_EQ(samples.count("herald_node_outbound_queued_bytes{shard=\"0\"}"), 1u);

  // Closing is seen at the next scrape.
  clients.pop_back();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  double open = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    open = parseSamples(scrape())["herald_node_connections"];
    if (open == kClients - 1) {
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(open, kClients - 1);
}

}  // namespace
}  // namespace herald::testing
