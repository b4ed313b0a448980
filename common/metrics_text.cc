#include "common/metrics_text.h"

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
  if (families_.empty()) {
    throw std::logic_error("MetricsText::sample before a family");  // a programming error
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

std::string MetricsText::text() const { return prometheus::TextSerializer().Serialize(families_); }

}  // namespace herald
