// The node's /metrics (Prometheus text format): its counters, read at scrape time. Names and
// meanings are listed in docs/operations.md "Monitoring"; labels are bounded (reasons,
// results, shards), never a channel or a user.
#include "common/metrics_text.h"
#include "common/version.h"
#include "dataplane/node.h"

namespace herald::node {

std::string Node::metricsText() const {
  auto sum = [this](std::atomic<uint64_t> ShardCounters::*counter) {
    return static_cast<double>(sumOverShards(counter));
  };
  using C = ShardCounters;
  MetricsText m;
  m.gauge("herald_node_build_info", "Always 1; the version is a label.")
      .sample(1, {{"version", kVersion}});

  // Connections and what they hold.
  m.gauge("herald_node_connections", "Open client connections.").sample(sum(&C::connections));
  m.counter("herald_node_connections_opened_total", "Client connections opened.")
      .sample(sum(&C::connections_total));
  m.gauge("herald_node_smoothing_waiting",
          "Publications smoothed namespaces' groups hold back to spread a burst, right now.")
      .sample(sum(&C::smoothing_waiting));
  m.gauge("herald_node_compressed_connections",
          "Open client connections that negotiated permessage-deflate (--compression).")
      .sample(sum(&C::compressed_connections));
  m.gauge("herald_node_sse_streams",
          "Open Server-Sent Events streams (GET /sse), counted in herald_node_connections too.")
      .sample(sum(&C::sse_streams));
  m.counter("herald_node_sse_posts_total", "Client frames POSTed to /sse (publish, rpc).")
      .sample(sum(&C::sse_posts));
  // Each reason has a counter of its own: a difference of two counters read at different
  // moments could go backwards, which Prometheus would take for a reset.
  m.counter("herald_node_upgrades_refused_total",
            "WebSocket upgrades refused, by reason (other: wrong path, no config yet, full).")
      .sample(sum(&C::refused_origin), {{"reason", "origin"}})
      .sample(sum(&C::refused_ip_rate), {{"reason", "ip_rate"}})
      .sample(sum(&C::refused_other), {{"reason", "other"}});
  m.gauge("herald_node_users", "Distinct authenticated users with a connection on this node.")
      .sample(static_cast<double>(interest_.users()));
  m.gauge("herald_node_subscriptions", "Channel subscriptions of open connections.")
      .sample(sum(&C::subscriptions));
  m.gauge("herald_node_channels", "Channels with at least one subscriber on this node.")
      .sample(static_cast<double>(interest_.channels()));

  // Messages.
  m.counter("herald_node_messages_received_total", "Frames received from clients.")
      .sample(sum(&C::messages_in));
  m.counter("herald_node_messages_delivered_total",
            "Publications written to client connections (one per client per publication).")
      .sample(sum(&C::messages_out));
  m.counter("herald_node_join_leave_unreported_total",
            "Joins and leaves of join_leave channels not reported to herald-control (no link, "
            "or past 10,000 channels in one 100 ms window).")
      .sample(static_cast<double>(join_leave_.unreported()));
  m.counter("herald_node_join_leave_skipped_total",
            "Join and leave frames not sent to a connection because its outbound queue was "
            "backed up (membership never pushes publications out).")
      .sample(sum(&C::join_leave_skipped));
  m.counter("herald_node_received_bytes_total", "Payload bytes of frames received from clients.")
      .sample(sum(&C::bytes_in));
  m.counter("herald_node_sent_bytes_total",
            "WebSocket frame bytes written to clients (headers included; compressed bytes for "
            "connections with permessage-deflate).")
      .sample(sum(&C::bytes_out));
  m.counter("herald_node_server_closes_total",
            "Connections the node closed, by close code (docs/protocol.md; 'other': outside "
            "4000-4099). Codes appear once used.");
  for (size_t code = 0; code < 100; ++code) {
    uint64_t n = 0;
    for (const auto& shard : shards_) {
      n += shard->counters().server_closes_4xxx[code].load(std::memory_order_relaxed);
    }
    if (n > 0) {
      m.sample(static_cast<double>(n), {{"code", std::to_string(4000 + code)}});
    }
  }
  m.sample(sum(&C::server_closes_other), {{"code", "other"}});
  m.counter("herald_node_messages_dropped_total",
            "Frames dropped from full per-connection queues (drop-oldest policy).")
      .sample(sum(&C::messages_dropped));
  m.counter("herald_node_slow_consumer_closes_total", "Connections closed with 4008.")
      .sample(sum(&C::slow_consumers_closed));
  m.counter("herald_node_delivery_backpressure_waits_total",
            "Times the NodeLink reader waited for a shard's full delivery queue.")
      .sample(static_cast<double>(backpressureWaits()));
  auto perShard = [&](std::atomic<uint64_t> ShardCounters::*counter) {
    for (size_t i = 0; i < shards_.size(); ++i) {
      m.sample(static_cast<double>((shards_[i]->counters().*counter).load()),
               {{"shard", std::to_string(i)}});
    }
  };
  m.gauge("herald_node_backlogged_connections", "Connections with frames queued, per shard.");
  perShard(&C::backlogged_connections);
  m.gauge("herald_node_outbound_queued_bytes", "Bytes queued for slow connections, per shard.");
  perShard(&C::outbound_queued_bytes);
  // Summed over shards: a label per shard would multiply every bucket by the shard count.
  m.histogram("herald_node_fanout_duration_seconds",
              "Time a shard took to write one publication to its subscribers (per publication "
              "per shard that had a recipient).")
      .sample(histogramOverShards(&C::fanout_duration));
  m.histogram("herald_node_publish_to_write_seconds",
              "From herald-control accepting a publication to this node writing it to its "
              "sockets (wall clocks of both hosts; per publication per shard).")
      .sample(histogramOverShards(&C::publish_to_write));
  m.histogram("herald_node_rpc_duration_seconds",
              "From a client's rpc frame to the backend's answer (docs/hooks.md), answers only.")
      .sample(histogramOverShards(&C::rpc_duration));
  m.counter("herald_node_rpc_calls_total",
            "Client rpc frames by result: answered, backend_error (the backend's application "
            "error), unavailable (failed or too slow), refused (no slot or no rpc hook).")
      .sample(sum(&C::rpc_answered), {{"result", "answered"}})
      .sample(sum(&C::rpc_backend_errors), {{"result", "backend_error"}})
      .sample(sum(&C::rpc_unavailable), {{"result", "unavailable"}})
      .sample(sum(&C::rpc_refused), {{"result", "refused"}});
  {
    auto& calls = m.counter(
        "herald_node_hook_calls_total",
        "Calls of the connect, subscribe, publish and refresh hooks by result: allowed, refused "
        "(the backend's error), failed (no usable answer: on_failure decided), cached (a "
        "subscribe answer reused within its ttl_seconds).");
    for (HookMethod method : {HookMethod::kConnect, HookMethod::kSubscribe, HookMethod::kPublish,
                              HookMethod::kRefresh}) {
      const HookCallCounters& c = hooks_.counters(method);
      const std::string hook = hookMethodName(method);
      auto value = [](const std::atomic<uint64_t>& v) {
        return static_cast<double>(v.load(std::memory_order_relaxed));
      };
      calls.sample(value(c.allowed), {{"hook", hook}, {"result", "allowed"}})
          .sample(value(c.refused), {{"hook", hook}, {"result", "refused"}})
          .sample(value(c.failed), {{"hook", hook}, {"result", "failed"}});
      if (method == HookMethod::kSubscribe) {
        calls.sample(value(c.cached), {{"hook", hook}, {"result", "cached"}});
      }
    }
  }

  m.counter("herald_node_jwks_fetches_total",
            "Fetches of AuthSettings.jwks_url, by result (failed: the last good set stays).")
      .sample(jwks_.fetchesOk(), {{"result", "ok"}})
      .sample(jwks_.fetchesFailed(), {{"result", "failed"}});
  m.gauge("herald_node_jwks_keys", "JWT keys held from the JWKS URL.").sample(jwks_.keyCount());

  // Refusals and failures, by reason.
  m.counter("herald_node_auth_failures_total", "Client authentication failures, by reason.")
      .sample(sum(&C::tokens_invalid), {{"reason", "invalid_token"}})
      .sample(sum(&C::tokens_expired), {{"reason", "expired"}})
      .sample(sum(&C::auth_timeouts), {{"reason", "timeout"}})
      .sample(sum(&C::tokens_too_long), {{"reason", "token_too_long"}})
      .sample(sum(&C::refused_user_limit), {{"reason", "user_limit"}});
  m.counter("herald_node_refusals_total", "Client frames refused, by reason.")
      .sample(sum(&C::rate_limited), {{"reason", "rate_limited"}})
      .sample(sum(&C::subscribe_denied), {{"reason", "subscribe_denied"}})
      .sample(sum(&C::subscribe_over_limit), {{"reason", "subscribe_over_limit"}})
      .sample(sum(&C::publish_denied), {{"reason", "publish_denied"}})
      .sample(sum(&C::json_too_deep), {{"reason", "json_too_deep"}});
  m.counter("herald_node_error_frames_total", "`error` frames sent to clients, any code.")
      .sample(sum(&C::protocol_errors));
  m.counter("herald_node_protocol_closes_total",
            "Connections closed for bad WebSocket input, by close code.")
      .sample(sum(&C::frames_too_large), {{"code", "1009"}})
      .sample(sum(&C::invalid_utf8), {{"code", "1007"}})
      .sample(sum(&C::protocol_violations), {{"code", "1002"}});
  m.counter("herald_node_handshake_timeouts_total", "Upgrades not finished in time.")
      .sample(sum(&C::handshake_timeouts));
  m.counter("herald_node_ping_timeouts_total", "Connections closed with 4015 (no pong).")
      .sample(sum(&C::ping_timeouts));
  m.counter("herald_node_pongs_withheld_total", "Pings not answered to clients not reading.")
      .sample(sum(&C::pongs_withheld));

  // Client publications and recoveries.
  m.counter("herald_node_client_publishes_total", "Client publish frames, by result.")
      .sample(sum(&C::client_publishes), {{"result", "published"}})
      .sample(sum(&C::publish_denied), {{"result", "denied"}})
      .sample(sum(&C::publish_failed), {{"result", "failed"}});
  m.counter("herald_node_recoveries_total", "Client recoveries finished, by result.")
      .sample(sum(&C::recoveries_recovered), {{"result", "recovered"}})
      .sample(sum(&C::recoveries_failed), {{"result", "not_recovered"}});
  m.counter("herald_node_messages_recovered_total", "Publications sent from history.")
      .sample(sum(&C::messages_recovered));

  // The link to the control plane and the config it pushed.
  m.gauge("herald_node_config_version", "Version of the config snapshot applied (0: none).")
      .sample(static_cast<double>(config_version_.load()));
  m.gauge("herald_node_control_connected", "1 while the NodeLink session is up.")
      .sample(link_ && link_->connected() ? 1 : 0);
  m.counter("herald_node_link_reconnects_total", "NodeLink sessions that ended and were redialled.")
      .sample(link_ ? static_cast<double>(link_->reconnects()) : 0);
  m.histogram("herald_node_link_rtt_seconds",
              "NodeLink round trips: a heartbeat to herald-control and its echo back (queued "
              "behind deliveries on their way, so it includes that wait).")
      .sample(link_ ? link_->roundTrips() : LatencyHistogram::Snapshot{});
  m.gauge("herald_node_draining", "1 while the node is shutting down.").sample(draining_ ? 1 : 0);
  return m.text();
}

}  // namespace herald::node
