#pragma once
// Prometheus text exposition (format 0.0.4) from values read at scrape time: the processes'
// counters are plain atomics on their hot paths, and a scrape reads them into metric
// families here, serialised by prometheus-cpp's TextSerializer (no hand-written format).
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "common/latency_histogram.h"

namespace herald {

class MetricsText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Starts a family; the samples added next belong to it. Names follow Prometheus' rules
  // (counters end in _total); labels stay bounded (never a channel or a user).
  MetricsText& counter(std::string name, std::string help);
  MetricsText& gauge(std::string name, std::string help);
  MetricsText& sample(double value, const Labels& labels = {});
  // A histogram family (durations in seconds, name ending in _seconds) and one of its series.
  MetricsText& histogram(std::string name, std::string help);
  MetricsText& sample(const LatencyHistogram::Snapshot& snapshot, const Labels& labels = {});

  const std::vector<prometheus::MetricFamily>& families() const { return families_; }
  std::string text() const;

  // The Content-Type of text() for an HTTP response.
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  MetricsText& family(std::string name, std::string help, prometheus::MetricType type);

  std::vector<prometheus::MetricFamily> families_;
};

}  // namespace herald
