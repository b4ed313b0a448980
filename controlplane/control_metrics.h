#pragma once
// What herald-control counts for its /metrics: Control API calls by method and gRPC code with
// their latency, publications by API and namespace, and HTTP API requests. Recording is lock-free
// for calls (a fixed series per method); publications and HTTP requests take a short lock on a
// map whose size is capped, so labels stay bounded whatever callers send.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/support/status_code_enum.h>

#include "common/clock.h"
#include "common/latency_histogram.h"
#include "common/metrics_text.h"
#include "common/namespace_label.h"
#include "controlplane/stats/stats_windows.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

class ControlMetrics {
 public:
  // One series set per method of the Control service (from its descriptor), and "other".
  ControlMetrics();

  // A Control API call that ended with `code` after `micros`.
  void recordCall(std::string_view method, grpc::StatusCode code, int64_t micros);
  // A publication accepted through `api` (the RPC, or ClientPublish) in namespace `ns` (a
  // configured namespace's name, or kDefaultNamespace, kUserStreams, kEveryone), on `channel`
  // (empty for personal messages and broadcasts to everyone) by `user` (a publishing client's;
  // empty for backends): counted for /metrics and in the stats windows.
  void recordPublication(std::string_view api, std::string_view ns, std::string_view channel = "",
                         std::string_view user = "");
  // Joins and leaves a node reported (entries, listed or not): handed on to the nodes, or not
  // (Redis away).
  void recordJoinLeave(bool relayed, uint64_t entries) {
    (relayed ? join_leave_relayed_ : join_leave_failed_)
        .fetch_add(entries, std::memory_order_relaxed);
  }
  // An HTTP request answered with `status` on `route` (a fixed route name, or "other").
  void recordHttpRequest(std::string_view route, int status);

  static constexpr std::string_view kDefaultNamespace = kDefaultNamespaceLabel;
  static constexpr std::string_view kUserStreams = kUserStreamsLabel;
  static constexpr std::string_view kEveryone = kEveryoneLabel;
  // `ns` when the config has a namespace of that name, else kDefaultNamespace: a caller
  // inventing namespaces must not invent series.
  static std::string_view namespaceLabel(const herald::v1::ConfigSnapshot& config,
                                         std::string_view ns);
  // Distinct (api, namespace) and (route, status) pairs kept; past it, "(other)".
  static constexpr size_t kMaxSeries = 1000;

  void appendTo(MetricsText& m) const;

  // The activity windows of ClusterStats, counted where publications are.
  StatsWindows& windows() { return windows_; }
  const StatsWindows& windows() const { return windows_; }

 private:
  struct MethodSeries {
    std::string name;
    std::array<std::atomic<uint64_t>, 17> calls{};  // by gRPC code
    LatencyHistogram latency;
  };
  MethodSeries& series(std::string_view method);

  std::vector<std::unique_ptr<MethodSeries>> methods_;  // fixed after construction
  StatsWindows windows_{unixSeconds()};
  std::atomic<uint64_t> join_leave_relayed_{0};
  std::atomic<uint64_t> join_leave_failed_{0};
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> publications_;  // under mu_
  std::map<std::pair<std::string, int>, uint64_t> http_requests_;         // under mu_
};

}  // namespace herald::control
