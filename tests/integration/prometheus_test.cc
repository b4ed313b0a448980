// A real Prometheus server (Debian's `prometheus`, on loopback, scraping every second) scrapes a
// control plane and two nodes; what the test did must come back through Prometheus' own query
// API. The Grafana dashboard in docs/ is checked against the same server: every query it plots
// must parse and name only metrics the processes export.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/support/cluster.h"
#include "integration/support/prometheus_text.h"
#include "integration/support/ws_client.h"

namespace herald::testing {
namespace {

using Json = nlohmann::json;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

// A port free right now on 127.0.0.1 (Prometheus logs the address it was given, not the one
// it bound, so it cannot be told port 0).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string urlEncode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.startControl();
    cluster_.startNode();
    cluster_.startNode();
    ASSERT_TRUE(cluster_.waitHealthyNodes(2));
    std::ofstream(dir_.path() + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n"
        << "  - job_name: herald-control\n    static_configs:\n      - targets: ['"
        << cluster_.controlHttpAddress() << "']\n"
        << "  - job_name: herald-node\n    static_configs:\n      - targets: ['"
        << cluster_.nodeAddress(0) << "', '" << cluster_.nodeAddress(1) << "']\n";
    for (int attempt = 0; attempt < 3 && !prometheus_; ++attempt) {
      address_ = "127.0.0.1:" + std::to_string(freePort());
      auto p = std::make_unique<Process>(
          kPrometheus,
          std::vector<std::string>{"--config.file=" + dir_.path() + "/prometheus.yml",
                                   "--storage.tsdb.path=" + dir_.path() + "/tsdb",
                                   "--web.listen-address=" + address_, "--log.level=warn"});
      // Ready once its HTTP API answers.
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < deadline && p->running()) {
        if (httpGet(address_, "/-/ready").status == 200) {
          prometheus_ = std::move(p);
          break;
        }
        std::this_thread::sleep_for(100ms);
      }
    }
    ASSERT_TRUE(prometheus_) << "Prometheus did not start on " << address_;
  }

  void TearDown() override {
    if (prometheus_) {
      prometheus_->stop(SIGTERM, 10s);
    }
  }

  // Runs an instant query; the raw API answer.
  Json query(const std::string& promql) {
    auto r = httpGet(address_, "/api/v1/query?query=" + urlEncode(promql));
    return Json::parse(r.body, nullptr, false);
  }
  // The single value of an instant query, or nullopt while it has none.
  std::optional<double> value(const std::string& promql) {
    Json r = query(promql);
    if (r.value("status", "") != "success" || r["data"]["result"].size() != 1) {
      return std::nullopt;
    }
    return std::stod(r["data"]["result"][0]["value"][1].get<std::string>());
  }
  // Waits (scrapes are a second apart) until `promql` has the value `want` (or at least it).
  ::testing::AssertionResult eventually(const std::string& promql, double want,
                                        bool at_least = false) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::optional<double> got;
    while (std::chrono::steady_clock::now() < deadline) {
      got = value(promql);
      if (got && (*got == want || (at_least && *got > want))) {
        return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(200ms);
    }
    return ::testing::AssertionFailure()
           << promql << " = " << (got ? std::to_string(*got) : "no value") << ", want " << want;
  }

  Cluster cluster_;
  TempDir dir_;
  std::string address_;
  std::unique_ptr<Process> prometheus_;
};

TEST_F(PrometheusTest, PrometheusSeesTheConnectionsAndDeliveriesTheTestMade) {
  constexpr int kPerNode = 3;
  constexpr int kMessages = 5;
  std::vector<std::unique_ptr<WsClient>> clients;
  for (size_t node = 0; node < 2; ++node) {
    for (int i = 0; i < kPerNode; ++i) {
      clients.push_back(std::make_unique<WsClient>(cluster_.wsUrl(node, "subscribe=ticks")));
      ASSERT_TRUE(clients.back()->waitOpen(10s)) << clients.back()->failReason();
      ASSERT_TRUE(clients.back()->nextOfType("connected", 10s).has_value());
    }
  }
  ASSERT_TRUE(cluster_.waitInterest("ticks", 2));
  for (int i = 0; i < kMessages; ++i) {
    cluster_.publish("ticks", "{\"i\":" + std::to_string(i) + "}");
  }
  for (auto& client : clients) {
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(client->nextOfType("message", 10s).has_value());
    }
  }

  EXPECT_TRUE(eventually("sum(up)", 3)) << "all three targets scraped";
  EXPECT_TRUE(eventually("sum(herald_node_connections)", 2 * kPerNode));
  EXPECT_TRUE(eventually("sum(herald_node_messages_delivered_total)", 2 * kPerNode * kMessages));
  EXPECT_TRUE(
      eventually("sum(herald_control_api_calls_total{method=\"Publish\",code=\"OK\"})", kMessages));
  EXPECT_TRUE(eventually("herald_control_nodes{health=\"healthy\"}", 2));
  // Timed by each shard that wrote it: at least once per node.
  EXPECT_TRUE(eventually("sum(herald_node_publish_to_write_seconds_count)", 2 * kMessages,
                         /*at_least=*/true));

  // Closing is seen too.
  clients.pop_back();
  EXPECT_TRUE(eventually("sum(herald_node_connections)", 2 * kPerNode - 1));
}

TEST_F(PrometheusTest, GrafanaDashboardQueriesParseAndNameExportedMetrics) {
  std::ifstream file(std::string(HERALD_SOURCE_DIR) + "/docs/grafana/herald-dashboard.json");
  ASSERT_TRUE(file.good()) << "docs/grafana/herald-dashboard.json";
  const Json dashboard = Json::parse(file, nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "the dashboard is not valid JSON";
  ASSERT_TRUE(dashboard.contains("panels"));

  // Series that appear once used (a publication, an API call) exist by now.
  cluster_.publish("ticks", "{}");
  // Every metric family the processes export, by name.
  std::set<std::string> exported;
  for (const std::string& target :
       {cluster_.controlHttpAddress(), cluster_.nodeAddress(0), cluster_.nodeAddress(1)}) {
    for (const auto& [sample, v] : parseSamples(httpGet(target, "/metrics").body)) {
      exported.insert(sample.substr(0, sample.find('{')));
    }
  }
  const std::regex metric(R"(herald_[a-z0-9_]+)");
  size_t exprs = 0;
  for (const Json& panel : dashboard["panels"]) {
    ASSERT_TRUE(panel.contains("title")) << panel;
    for (const Json& target : panel.value("targets", Json::array())) {
      const std::string expr = target.value("expr", "");
      ASSERT_FALSE(expr.empty()) << panel["title"];
      ++exprs;
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric), end; it != end; ++it) {
        if (it->str().rfind("herald_control_redis_", 0) == 0) {
          continue;  // exported with --engine redis only (docs/operations.md)
        }
        EXPECT_EQ(exported.count(it->str()), 1u)
            << panel["title"] << ": " << it->str() << " is not exported";
      }
      // Grafana's variables resolve to Prometheus' own before the query is sent.
      std::string resolved = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "1m");
      EXPECT_EQ(query(resolved).value("status", ""), "success") << panel["title"] << ": " << expr;
    }
  }
  EXPECT_GE(exprs, 8u) << "the dashboard plots the main series";
}

}  // namespace
}  // namespace herald::testing
