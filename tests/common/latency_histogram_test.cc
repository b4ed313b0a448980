#include "common/latency_histogram.h"

#include <gtest/gtest.h>

#include "common/metrics_text.h"

namespace herald {
namespace {

TEST(LatencyHistogramTest, EachDurationLandsInTheFirstBucketWhoseBoundHoldsIt) {
  LatencyHistogram h;
  h.observeMicros(100);         // exactly 0.0001 s: the first bucket (bounds are inclusive)
  h.observeMicros(101);         // just above: the second
  h.observeMicros(-5);          // clocks apart: counted as zero
  h.observeMicros(60'000'000);  // a minute: +Inf
  const auto s = h.snapshot();
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBuckets - 1], 1u);
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.sum_micros, 100u + 101u + 60'000'000u);
}

TEST(LatencyHistogramTest, SnapshotsAddUp) {
  LatencyHistogram a, b;
  a.observeMicros(1'000);
  b.observeMicros(1'000);
  b.observeMicros(2'000'000);
  auto s = a.snapshot();
  s += b.snapshot();
  EXPECT_EQ(s.count(), 3u);
  EXPECT_EQ(s.sum_micros, 2'002'000u);
}

TEST(LatencyHistogramTest, TextHasCumulativeBucketsCountAndSumInSeconds) {
  LatencyHistogram h;
  h.observeMicros(300);    // le=0.0005
  h.observeMicros(3'000);  // le=0.005
  MetricsText m;
  m.histogram("x_seconds", "A test.").sample(h.snapshot(), {{"method", "Publish"}});
  const std::string text = m.text();
  EXPECT_NE(text.find("# TYPE x_seconds histogram"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{method=\"Publish\",le=\"0.00025\"} 0"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{method=\"Publish\",le=\"0.0005\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{method=\"Publish\",le=\"0.005\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{method=\"Publish\",le=\"+Inf\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_count{method=\"Publish\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_sum{method=\"Publish\"} 0.0033"), std::string::npos) << text;
}

TEST(LatencyHistogramTest, MixingSampleKindsIsRefused) {
  MetricsText m;
  m.counter("c_total", "A counter.");
  EXPECT_THROW(m.sample(LatencyHistogram().snapshot()), std::logic_error);
  m.histogram("h_seconds", "A histogram.");
  EXPECT_THROW(m.sample(1.0), std::logic_error);
}

}  // namespace
}  // namespace herald
