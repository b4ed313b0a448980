#include "common/metrics_text.h"

#include <limits>
#include <stdexcept>

#include <prometheus/text_serializer.h>

namespace herald {

MetricsText& MetricsText::family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  families_.push_back(std::move(f));
  return *this;
}

MetricsText& MetricsText::counter(std::string name, std::string help) {
  return family(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

MetricsText& MetricsText::gauge(std::string name, std::string help) {
  return family(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}

MetricsText& MetricsText::sample(double value, const Labels& labels) {
  if (families_.empty() || families_.back().type == prometheus::MetricType::Histogram) {
    throw std::logic_error(
        "MetricsText::sample before a counter or gauge family");  // a programming error
  }
  prometheus::MetricFamily& f = families_.back();
  prometheus::ClientMetric m;
  for (const auto& [name, label_value] : labels) {
    m.label.push_back({name, label_value});
  }
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return *this;
}

MetricsText& MetricsText::histogram(std::string name, std::string help) {
  return family(std::move(name), std::move(help), prometheus::MetricType::Histogram);
}

MetricsText& MetricsText::sample(const LatencyHistogram::Snapshot& snapshot, const Labels& labels) {
  if (families_.empty() || families_.back().type != prometheus::MetricType::Histogram) {
    throw std::logic_error("MetricsText: a histogram sample outside a histogram family");
  }
  prometheus::ClientMetric m;
  for (const auto& [name, label_value] : labels) {
    m.label.push_back({name, label_value});
  }
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    cumulative += snapshot.counts[i];
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = i < LatencyHistogram::kBoundsSeconds.size()
                             ? LatencyHistogram::kBoundsSeconds[i]
                             : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(bucket);
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(snapshot.sum_micros) / 1e6;
  families_.back().metric.push_back(std::move(m));
  return *this;
}

std::string MetricsText::text() const { return prometheus::TextSerializer().Serialize(families_); }

}  // namespace herald
