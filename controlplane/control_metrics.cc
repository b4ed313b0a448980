#include "controlplane/control_metrics.h"

#include <google/protobuf/descriptor.h>

#include "controlplane/grpc_codes.h"

namespace herald::control {

ControlMetrics::ControlMetrics() {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("herald.v1.Control");
  for (int i = 0; service != nullptr && i < service->method_count(); ++i) {
    methods_.push_back(std::make_unique<MethodSeries>());
    methods_.back()->name = service->method(i)->name();
  }
  methods_.push_back(std::make_unique<MethodSeries>());
  methods_.back()->name = "other";
}

std::string_view ControlMetrics::namespaceLabel(const herald::v1::ConfigSnapshot& config,
                                                std::string_view ns) {
  if (!ns.empty()) {
    for (const auto& configured : config.namespaces()) {
      if (configured.name() == ns) {
        return ns;
      }
    }
  }
  return kDefaultNamespace;
}

ControlMetrics::MethodSeries& ControlMetrics::series(std::string_view method) {
  for (auto& s : methods_) {
    if (s->name == method) {
      return *s;
    }
  }
  return *methods_.back();
}

void ControlMetrics::recordCall(std::string_view method, grpc::StatusCode code, int64_t micros) {
  MethodSeries& s = series(method);
  const auto index = static_cast<size_t>(code);
  s.calls[index < s.calls.size() ? index : static_cast<size_t>(grpc::StatusCode::UNKNOWN)]
      .fetch_add(1, std::memory_order_relaxed);
  s.latency.observeMicros(micros);
}

void ControlMetrics::recordPublication(std::string_view api, std::string_view ns,
                                       std::string_view channel, std::string_view user) {
  windows_.recordPublication(ns, channel, user, unixSeconds());
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(std::string(api), std::string(ns));
  auto it = publications_.find(key);
  if (it == publications_.end()) {
    if (publications_.size() >= kMaxSeries) {
      key.second = "(other)";
    }
    it = publications_.emplace(std::move(key), 0).first;
  }
  it->second += 1;
}

void ControlMetrics::recordHttpRequest(std::string_view route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(std::string(route), status);
  auto it = http_requests_.find(key);
  if (it == http_requests_.end()) {
    if (http_requests_.size() >= kMaxSeries) {
      key.first = "(other)";
    }
    it = http_requests_.emplace(std::move(key), 0).first;
  }
  it->second += 1;
}

void ControlMetrics::appendTo(MetricsText& m) const {
  m.counter("herald_control_api_calls_total",
            "Control API calls (gRPC and HTTP) by method and gRPC code.");
  for (const auto& s : methods_) {
    for (size_t code = 0; code < s->calls.size(); ++code) {
      const uint64_t n = s->calls[code].load(std::memory_order_relaxed);
      if (n > 0) {
        m.sample(static_cast<double>(n),
                 {{"method", s->name},
                  {"code", std::string(grpcCodeName(static_cast<grpc::StatusCode>(code)))}});
      }
    }
  }
  m.histogram("herald_control_api_latency_seconds",
              "Control API call duration by method, from the key check to the answer.");
  for (const auto& s : methods_) {
    const auto snapshot = s->latency.snapshot();
    if (snapshot.count() > 0) {
      m.sample(snapshot, {{"method", s->name}});
    }
  }
  m.counter("herald_control_join_leave_total",
            "Joins and leaves nodes reported in namespaces with join_leave, by result (relayed: "
            "handed on to the nodes with subscribers; failed: Redis was away, not sent).");
  m.sample(static_cast<double>(join_leave_relayed_.load(std::memory_order_relaxed)),
           {{"result", "relayed"}});
  m.sample(static_cast<double>(join_leave_failed_.load(std::memory_order_relaxed)),
           {{"result", "failed"}});
  std::lock_guard<std::mutex> lock(mu_);
  m.counter("herald_control_publications_total",
            "Publications accepted, by API and namespace ((default): channels of no configured "
            "namespace; (user): personal streams; (all): broadcasts to every connection).");
  for (const auto& [key, n] : publications_) {
    m.sample(static_cast<double>(n), {{"api", key.first}, {"namespace", key.second}});
  }
  m.counter("herald_control_http_requests_total", "HTTP requests by route and status.");
  for (const auto& [key, n] : http_requests_) {
    m.sample(static_cast<double>(n),
             {{"route", key.first}, {"status", std::to_string(key.second)}});
  }
}

}  // namespace herald::control
