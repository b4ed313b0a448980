// The node's figures (/stats, the NodeLink heartbeat) and its HTTP routes.
#include <nlohmann/json.hpp>

#include "common/metrics_text.h"
#include "common/version.h"
#include "dataplane/http/web_assets.h"
#include "dataplane/node.h"

namespace herald::node {

uint64_t Node::backpressureWaits() const {
  uint64_t total = 0;
  for (const auto& shard : shards_) {
    total += shard->backpressureWaits();
  }
  return total;
}

namespace {

using ShardCounter = std::atomic<uint64_t> ShardCounters::*;

// /stats fields that are a sum over shards, beside those of NodeStats. A new counter in
// ShardCounters needs one line here.
constexpr std::pair<const char*, ShardCounter> kSummedCounters[] = {
    {"connections_total", &ShardCounters::connections_total},
    {"connections_refused", &ShardCounters::connections_refused},
    {"protocol_errors", &ShardCounters::protocol_errors},
    {"slow_consumers_closed", &ShardCounters::slow_consumers_closed},
    {"auth_failures", &ShardCounters::auth_failures},
    {"tokens_expired", &ShardCounters::tokens_expired},
    {"rate_limited", &ShardCounters::rate_limited},
    {"refused_origin", &ShardCounters::refused_origin},
    {"refused_ip_rate", &ShardCounters::refused_ip_rate},
    {"refused_user_limit", &ShardCounters::refused_user_limit},
    {"subscribe_denied", &ShardCounters::subscribe_denied},
    {"subscribe_over_limit", &ShardCounters::subscribe_over_limit},
    {"ping_timeouts", &ShardCounters::ping_timeouts},
    {"messages_dropped", &ShardCounters::messages_dropped},
    {"backlogged_connections", &ShardCounters::backlogged_connections},
    {"compressed_connections", &ShardCounters::compressed_connections},
    {"sse_streams", &ShardCounters::sse_streams},
    {"sse_posts", &ShardCounters::sse_posts},
    {"smoothing_waiting", &ShardCounters::smoothing_waiting},
    {"outbound_queued_bytes", &ShardCounters::outbound_queued_bytes},
    {"recoveries", &ShardCounters::recoveries},
    {"recoveries_failed", &ShardCounters::recoveries_failed},
    {"messages_recovered", &ShardCounters::messages_recovered},
    {"client_publishes", &ShardCounters::client_publishes},
    {"frames_too_large", &ShardCounters::frames_too_large},
    {"invalid_utf8", &ShardCounters::invalid_utf8},
    {"protocol_violations", &ShardCounters::protocol_violations},
    {"handshake_timeouts", &ShardCounters::handshake_timeouts},
    {"auth_timeouts", &ShardCounters::auth_timeouts},
    {"publish_denied", &ShardCounters::publish_denied},
    {"publish_failed", &ShardCounters::publish_failed},
    {"json_too_deep", &ShardCounters::json_too_deep},
    {"tokens_too_long", &ShardCounters::tokens_too_long},
    {"pongs_withheld", &ShardCounters::pongs_withheld},
};

}  // namespace

uint64_t Node::sumOverShards(std::atomic<uint64_t> ShardCounters::*counter) const {
  uint64_t total = 0;
  for (const auto& shard : shards_) {
    total += (shard->counters().*counter).load(std::memory_order_relaxed);
  }
  return total;
}

LatencyHistogram::Snapshot Node::histogramOverShards(
    LatencyHistogram ShardCounters::*histogram) const {
  LatencyHistogram::Snapshot total;
  for (const auto& shard : shards_) {
    total += (shard->counters().*histogram).snapshot();
  }
  return total;
}

herald::v1::NodeStats Node::stats() const {
  herald::v1::NodeStats s;
  s.set_connections(sumOverShards(&ShardCounters::connections));
  s.set_subscriptions(sumOverShards(&ShardCounters::subscriptions));
  s.set_messages_in(sumOverShards(&ShardCounters::messages_in));
  s.set_messages_out(sumOverShards(&ShardCounters::messages_out));
  s.set_users(interest_.users());
  s.set_channels(interest_.channels());
  s.set_draining(draining_.load());
  const LatencyHistogram::Snapshot latency = histogramOverShards(&ShardCounters::publish_to_write);
  for (uint64_t count : latency.counts) {
    s.add_publish_to_write_counts(count);
  }
  s.set_publish_to_write_sum_us(latency.sum_micros);
  return s;
}

std::string Node::statsJson() const {
  const auto s = stats();
  nlohmann::json j = {
      {"node", config_.node_id},
      {"version", kVersion},
      {"shards", shards_.size()},
      {"connections", s.connections()},
      {"users", s.users()},
      {"subscriptions", s.subscriptions()},
      {"channels", s.channels()},
      {"messages_in", s.messages_in()},
      {"messages_out", s.messages_out()},
      {"control_connected", link_ && link_->connected()},
      {"control_address", link_ ? link_->controlAddress() : std::string()},
      {"config_version", config_version_.load()},
      {"resync_dropped", resync_ ? resync_->dropped() : 0},
      {"delivery_backpressure_waits", backpressureWaits()},
  };
  for (const auto& [name, counter] : kSummedCounters) {
    j[name] = sumOverShards(counter);
  }
  return j.dump();
}

// The node's HTTP routes on the client port; handlers run on shard threads.
void Node::addHttpRoutes() {
  routes_.add("/health", [this] { return health(); });
  routes_.add("/stats", [this] { return HttpResponse{200, "application/json", statsJson()}; });
  routes_.add("/metrics", [this] {
    return HttpResponse{200, MetricsText::kContentType, metricsText()};
  });
  for (const WebAsset* asset : webAssets()) {
    routes_.add(std::string(asset->path), [asset] {
      return HttpResponse{200, std::string(asset->content_type), std::string(asset->body)};
    });
  }
}

HttpResponse Node::health() const {
  // Load balancers should not send clients to a node that refuses them for lack of config.
  const bool configured = config_version_.load() > 0;
  nlohmann::json j = {{"status", configured ? "ok" : "starting"},
                      {"node", config_.node_id},
                      {"control_connected", link_ && link_->connected()},
                      {"control_address", link_ ? link_->controlAddress() : std::string()}};
  return HttpResponse{configured ? 200 : 503, "application/json", j.dump()};
}

}  // namespace herald::node
