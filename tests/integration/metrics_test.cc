// /metrics of a node and of herald-control as Prometheus reads them: the real binaries, real
// clients, and Debian's promtool checking the exposition; the figures must match what the test
// did.
#include <gtest/gtest.h>

#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

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
  std::string scrapeControl() {
    auto response = httpGet(cluster_.controlHttpAddress(), "/metrics");
    EXPECT_EQ(response.status, 200);
    return response.body;
  }
  // Scrapes until `sample` of `scrape_fn` satisfies `ok` (10 s at most); returns the last value.
  template <typename Scrape, typename Ok>
  double waitSample(Scrape scrape_fn, const std::string& sample, Ok ok) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    double value = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      auto samples = parseSamples(scrape_fn());
      value = samples.count(sample) ? samples[sample] : -1;
      if (ok(value)) {
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    return value;
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
  EXPECT_EQ(samples["herald_node_server_closes_total{code=\"4001\"}"], 1) << "the bad token";
  EXPECT_EQ(samples["herald_node_received_bytes_total"], 8) << "\"not json\"";
  EXPECT_GT(samples["herald_node_sent_bytes_total"], 0);
  // Each publication was written by at least one shard, and timed there.
  const double fanouts = samples["herald_node_fanout_duration_seconds_count"];
  EXPECT_GE(fanouts, kMessages);
  EXPECT_EQ(samples["herald_node_publish_to_write_seconds_count"], fanouts);
  EXPECT_EQ(samples["herald_node_fanout_duration_seconds_bucket{le=\"+Inf\"}"], fanouts);
  // Heartbeats are echoed: the link's round trip is measured (every 200 ms here).
  EXPECT_GE(waitSample([this] { return scrape(); }, "herald_node_link_rtt_seconds_count",
                       [](double v) { return v >= 1; }),
            1);

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

TEST_F(MetricsTest, ControlMetricsPassPromtoolAndCountCallsPublicationsAndNodes) {
  WsClient client(cluster_.wsUrl(0, "subscribe=news%3Aa"));
  ASSERT_TRUE(client.waitOpen(10s)) << client.failReason();
  ASSERT_TRUE(client.nextOfType("connected", 10s).has_value());
  ASSERT_TRUE(cluster_.waitInterest("news:a", 1));
  constexpr int kPublished = 3;
  for (int i = 0; i < kPublished; ++i) {
    cluster_.publish("news:a", "{}");
  }
  {
    herald::v1::PublishRequest bad;
    bad.set_channel("news:a");
    bad.set_data("not json");
    grpc::ClientContext ctx;
    herald::v1::PublishResponse resp;
    ASSERT_EQ(cluster_.api().Publish(&ctx, bad, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    auto keyless = controlStub(cluster_.controlAddress(), "");
    grpc::ClientContext ctx;
    herald::v1::InfoResponse info;
    ASSERT_EQ(keyless->Info(&ctx, herald::v1::InfoRequest(), &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }

  const std::string text = scrapeControl();
  auto [status, output] = promtoolCheck(dir_, text);
  EXPECT_EQ(status, 0) << "promtool check metrics:\n" << output << "\n" << text;
  auto samples = parseSamples(text);
  EXPECT_EQ(samples["herald_control_api_calls_total{method=\"Publish\",code=\"OK\"}"], kPublished);
  EXPECT_EQ(samples["herald_control_api_calls_total{method=\"Publish\",code=\"INVALID_ARGUMENT\"}"],
            1);
  EXPECT_EQ(samples["herald_control_api_latency_seconds_count{method=\"Publish\"}"],
            kPublished + 1);
  // "news" is no configured namespace: counted under the default's name, not its own.
  EXPECT_EQ(samples["herald_control_publications_total{api=\"Publish\",namespace=\"(default)\"}"],
            kPublished);
  EXPECT_EQ(samples["herald_control_nodes{health=\"healthy\"}"], 1);
  EXPECT_EQ(samples["herald_control_nodes{health=\"unhealthy\"}"], 0);
  EXPECT_EQ(samples["herald_control_build_info{version=\"0.1.0\",engine=\"memory\"}"], 1);
  EXPECT_EQ(samples.count("herald_control_redis_calls_total{result=\"ok\"}"), 0u)
      << "no Redis series with the memory engine";
  // Heartbeats and the once-a-second history walk show up within a few seconds.
  EXPECT_EQ(waitSample([this] { return scrapeControl(); }, "herald_control_node_connections",
                       [](double v) { return v == 1; }),
            1);
  EXPECT_GE(waitSample([this] { return scrapeControl(); }, "herald_control_history_streams",
                       [](double v) { return v >= 1; }),
            1);

  auto health = httpGet(cluster_.controlHttpAddress(), "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("\"status\":\"ok\""), std::string::npos) << health.body;
}

}  // namespace
}  // namespace herald::testing
