// herald-control's /metrics and /health: ControlMetrics' series plus what is read at scrape
// time (nodes, history, Redis). Names and meanings: docs/operations.md "Monitoring".
#include <nlohmann/json.hpp>

#include "common/metrics_text.h"
#include "common/version.h"
#include "controlplane/control_server.h"
#include "controlplane/redis/redis_stream_engine.h"

namespace herald::control {

std::string ControlServer::metricsText() const {
  MetricsText m;
  m.gauge("herald_control_build_info", "Always 1; version and engine are labels.")
      .sample(1, {{"version", kVersion}, {"engine", config_.engine}});
  metrics_.appendTo(m);
  m.gauge("herald_control_api_calls_in_flight", "Control API calls being handled now.")
      .sample(static_cast<double>(control_service_->inFlight()));
  // Read once: the gauge and the nodes behind it speak of the same version.
  const uint64_t version = store_->version();
  m.gauge("herald_control_config_version", "Version of the cluster config in force.")
      .sample(static_cast<double>(version));

  // Nodes on this replica, by health, and what they hold (from their last heartbeat).
  uint64_t by_health[4] = {};
  uint64_t connections = 0;
  uint64_t behind = 0;
  for (const auto& node : nodes_.list()) {
    const int health = node.health();
    by_health[health >= 0 && health < 4 ? health : 0] += 1;
    if (node.health() == herald::v1::NODE_HEALTH_HEALTHY) {
      connections += node.connections();
      behind += node.config_version_acked() < version ? 1 : 0;
    }
  }
  m.gauge("herald_control_nodes",
          "Nodes known to this replica, by health (gone: departed, listed for a while).")
      .sample(static_cast<double>(by_health[herald::v1::NODE_HEALTH_HEALTHY]),
              {{"health", "healthy"}})
      .sample(static_cast<double>(by_health[herald::v1::NODE_HEALTH_UNHEALTHY]),
              {{"health", "unhealthy"}})
      .sample(static_cast<double>(by_health[herald::v1::NODE_HEALTH_DRAINING]),
              {{"health", "draining"}});
  m.gauge("herald_control_nodes_config_behind",
          "Healthy nodes that have not acked the config in force (yet, or refused it).")
      .sample(static_cast<double>(behind));
  m.gauge("herald_control_node_connections",
          "Client connections on this replica's healthy nodes (their last heartbeats).")
      .sample(static_cast<double>(connections));

  if (events_) {
    // Events to the backend, per receiver (docs/hooks.md "Events").
    auto& total = m.counter("herald_control_events_total",
                            "Events per receiver: delivered (taken by it), dropped (its queue "
                            "was full).");
    for (const auto& d : events_->dispatchers()) {
      total
          .sample(static_cast<double>(d->delivered()),
                  {{"endpoint", d->name()}, {"result", "delivered"}})
          .sample(static_cast<double>(d->dropped()),
                  {{"endpoint", d->name()}, {"result", "dropped"}});
    }
    auto& failures = m.counter("herald_control_event_send_failures_total",
                               "Batches a receiver did not take (sent again with backoff).");
    for (const auto& d : events_->dispatchers()) {
      failures.sample(static_cast<double>(d->failedAttempts()), {{"endpoint", d->name()}});
    }
    auto& queued = m.gauge("herald_control_events_queued", "Events waiting for a receiver.");
    for (const auto& d : events_->dispatchers()) {
      queued.sample(static_cast<double>(d->queued()), {{"endpoint", d->name()}});
    }
    if (event_relay_) {
      // --engine redis: the cluster's event stream (docs/hooks.md "Events with several
      // replicas"). Delivery counts above are the leader's.
      m.gauge("herald_control_events_leader",
              "1 on the replica that delivers the cluster's events, 0 on the others.")
          .sample(event_relay_->leading() ? 1.0 : 0.0);
      m.counter("herald_control_events_appended_total",
                "Events this replica put into the cluster's stream in Redis (appended), or "
                "could not (dropped: its queue was full while Redis was out of reach).")
          .sample(static_cast<double>(event_relay_->appended()), {{"result", "appended"}})
          .sample(static_cast<double>(event_relay_->dropped()), {{"result", "dropped"}});
      m.gauge("herald_control_events_append_queued",
              "Changes of this replica waiting to go into Redis.")
          .sample(static_cast<double>(event_relay_->queued()));
    }
  }

  LatencyHistogram::Snapshot latency;
  for (const auto& session : nodes_.live()) {
    latency += session->publishToWrite();
  }
  m.histogram("herald_control_cluster_publish_to_write_seconds",
              "herald_node_publish_to_write_seconds summed over this replica's live nodes, as "
              "of their last heartbeats (drops when a node leaves).")
      .sample(latency);

  if (auto history = channels_->historySize()) {
    m.gauge("herald_control_history_streams",
            "Streams (channels and personal streams) with an offset (memory engine; updated "
            "once a second).")
        .sample(static_cast<double>(history->streams));
    m.gauge("herald_control_history_publications",
            "Publications retained in history for recovery (memory engine; updated once a "
            "second).")
        .sample(static_cast<double>(history->publications));
  }
  if (config_.engine == "redis") {
    const RedisCallStats& redis = redisCallStats();
    m.counter("herald_control_redis_calls_total",
              "Redis round trips (a command or a pipeline), by result.")
        .sample(static_cast<double>(redis.ok.load()), {{"result", "ok"}})
        .sample(static_cast<double>(redis.unavailable.load()), {{"result", "unavailable"}});
    m.counter("herald_control_redis_error_replies_total",
              "Redis replies that were errors (a script or command refused).")
        .sample(static_cast<double>(redis.error_replies.load()));
    m.histogram("herald_control_redis_latency_seconds", "Redis round-trip time.")
        .sample(redis.latency.snapshot());
    if (redis_engine_ != nullptr) {
      const auto pubsub = redis_engine_->pubsubStats();
      m.counter("herald_control_redis_pubsub_received_messages_total",
                "Pub/sub messages this replica received from Redis (publications, joins and "
                "leaves, its own markers).")
          .sample(static_cast<double>(pubsub.messages));
      m.counter("herald_control_redis_pubsub_received_bytes_total",
                "Bytes of those messages (channel names and payloads).")
          .sample(static_cast<double>(pubsub.bytes));
      m.gauge("herald_control_redis_subscribed_streams",
              "Streams (channels and personal streams) this replica is subscribed to in Redis: "
              "those its nodes want.")
          .sample(static_cast<double>(pubsub.streams));
      auto& writes = m.gauge("herald_control_redis_writes_seen",
                             "The highest count of acknowledged writes (herald:w) this replica "
                             "has seen from each Redis: one that comes back with fewer lost "
                             "writes (docs/operations.md).");
      for (const auto& [address, count] : pubsub.writes_seen) {
        writes.sample(static_cast<double>(count), {{"redis", address}});
      }
    }
  }
  return m.text();
}

std::string ControlServer::healthJson() const {
  size_t healthy = 0;
  for (const auto& node : nodes_.list()) {
    healthy += node.health() == herald::v1::NODE_HEALTH_HEALTHY ? 1 : 0;
  }
  nlohmann::json body = {{"status", "ok"},
                         {"version", kVersion},
                         {"engine", config_.engine},
                         {"healthy_nodes", healthy}};
  return body.dump();
}

}  // namespace herald::control
