#include "controlplane/control_metrics.h"

#include <gtest/gtest.h>

namespace herald::control {
namespace {

std::string text(const ControlMetrics& metrics) {
  MetricsText m;
  metrics.appendTo(m);
  return m.text();
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(ControlMetricsTest, CallsAreCountedByMethodAndCodeName) {
  ControlMetrics metrics;
  metrics.recordCall("Publish", grpc::StatusCode::OK, 120);
  metrics.recordCall("Publish", grpc::StatusCode::OK, 80);
  metrics.recordCall("Publish", grpc::StatusCode::INVALID_ARGUMENT, 10);
  metrics.recordCall("NotAMethod", grpc::StatusCode::OK, 10);  // a caller's invention
  const std::string t = text(metrics);
  EXPECT_TRUE(has(t, R"(herald_control_api_calls_total{method="Publish",code="OK"} 2)")) << t;
  EXPECT_TRUE(
      has(t, R"(herald_control_api_calls_total{method="Publish",code="INVALID_ARGUMENT"} 1)"));
  EXPECT_TRUE(has(t, R"(herald_control_api_calls_total{method="other",code="OK"} 1)"));
  EXPECT_TRUE(has(t, R"(herald_control_api_latency_seconds_count{method="Publish"} 3)"));
  EXPECT_EQ(t.find("NotAMethod"), std::string::npos);
  EXPECT_EQ(t.find(R"(method="Info")"), std::string::npos) << "series appear once used";
}

TEST(ControlMetricsTest, OnlyConfiguredNamespacesGetASeriesOfTheirOwn) {
  herald::v1::ConfigSnapshot config;
  config.add_namespaces()->set_name("prices");
  EXPECT_EQ(ControlMetrics::namespaceLabel(config, "prices"), "prices");
  EXPECT_EQ(ControlMetrics::namespaceLabel(config, "made-up"), ControlMetrics::kDefaultNamespace);
  EXPECT_EQ(ControlMetrics::namespaceLabel(config, ""), ControlMetrics::kDefaultNamespace);
}

TEST(ControlMetricsTest, LabelPairsAreCapped) {
  ControlMetrics metrics;
  for (size_t i = 0; i < ControlMetrics::kMaxSeries + 50; ++i) {
    metrics.recordPublication("Publish", "ns" + std::to_string(i));
    metrics.recordHttpRequest("/r" + std::to_string(i), 200);
  }
  const std::string t = text(metrics);
  EXPECT_TRUE(
      has(t, R"m(herald_control_publications_total{api="Publish",namespace="(other)"} 50)m"))
      << t.substr(0, 400);
  EXPECT_TRUE(has(t, R"m(herald_control_http_requests_total{route="(other)",status="200"} 50)m"));
  EXPECT_EQ(t.find(R"(namespace="ns1049")"), std::string::npos);
}

}  // namespace
}  // namespace herald::control
