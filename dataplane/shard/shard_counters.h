#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "common/latency_histogram.h"

namespace herald::node {

// Written by the owning shard only, read by anyone (relaxed): no lock on the hot path.
struct alignas(64) ShardCounters {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> users{0};
  std::atomic<uint64_t> subscriptions{0};
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_in{0};   // payload bytes of client frames
  std::atomic<uint64_t> bytes_out{0};  // WebSocket frame bytes written (headers included)
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> slow_consumers_closed{0};
  std::atomic<uint64_t> auth_failures{0};
  std::atomic<uint64_t> tokens_invalid{0};  // of which not tokens_too_long (for /metrics)
  std::atomic<uint64_t> tokens_expired{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> refused_origin{0};
  std::atomic<uint64_t> refused_ip_rate{0};
  std::atomic<uint64_t> refused_user_limit{0};
  std::atomic<uint64_t> refused_other{0};  // upgrades: wrong path, no config yet, full/draining
  std::atomic<uint64_t> subscribe_denied{0};
  std::atomic<uint64_t> subscribe_over_limit{0};
  std::atomic<uint64_t> ping_timeouts{0};
  std::atomic<uint64_t> messages_dropped{0};        // oldest frames dropped from full queues
  std::atomic<uint64_t> join_leave_skipped{0};      // join / leave frames not sent: backlogged
  std::atomic<uint64_t> backlogged_connections{0};  // connections with a queue right now
  std::atomic<uint64_t> compressed_connections{0};  // with permessage-deflate, right now
  std::atomic<uint64_t> sse_streams{0};             // Server-Sent Events streams, right now
  std::atomic<uint64_t> sse_posts{0};               // frames POSTed to /sse
  std::atomic<uint64_t> smoothing_waiting{0};       // publications smoothed groups hold, right now
  std::atomic<uint64_t> outbound_queued_bytes{0};   // bytes in those queues right now
  std::atomic<uint64_t> recoveries{0};              // recoveries finished
  std::atomic<uint64_t> recoveries_failed{0};       // of which recovered:false
  std::atomic<uint64_t> recoveries_recovered{0};    // of which recovered:true
  std::atomic<uint64_t> messages_recovered{0};      // publications sent from history
  std::atomic<uint64_t> client_publishes{0};        // client publications published
  std::atomic<uint64_t> frames_too_large{0};        // closed 1009
  std::atomic<uint64_t> invalid_utf8{0};            // closed 1007
  std::atomic<uint64_t> protocol_violations{0};     // closed 1002 (bad framing)
  std::atomic<uint64_t> handshake_timeouts{0};      // upgrade not finished in time
  std::atomic<uint64_t> auth_timeouts{0};           // no token in time (closed 4001)
  std::atomic<uint64_t> publish_denied{0};          // refused by the node (rule, limit)
  std::atomic<uint64_t> publish_failed{0};          // refused by the control plane, or no answer
  std::atomic<uint64_t> json_too_deep{0};           // frames nested deeper than kMaxJsonDepth
  std::atomic<uint64_t> tokens_too_long{0};         // tokens over kMaxTokenBytes, not parsed
  std::atomic<uint64_t> pongs_withheld{0};          // pings not answered: client not reading
  // Client rpc frames by how the rpc hook answered (docs/hooks.md).
  std::atomic<uint64_t> rpc_answered{0};        // the backend's data
  std::atomic<uint64_t> rpc_backend_errors{0};  // the backend's application error
  std::atomic<uint64_t> rpc_unavailable{0};     // failed, too slow, or a bad reply
  std::atomic<uint64_t> rpc_refused{0};         // no slot, too many waiting, or no rpc hook
  // Connections the node closed, by close code: 4000..4099 one counter each (Herald's codes,
  // docs/protocol.md), the rest together.
  std::array<std::atomic<uint64_t>, 100> server_closes_4xxx{};
  std::atomic<uint64_t> server_closes_other{0};
  // Per publication this shard wrote to at least one connection (fanout.cc says how).
  LatencyHistogram fanout_duration;
  LatencyHistogram publish_to_write;
  // From a client's rpc frame to the backend's answer (answered or backend error only).
  LatencyHistogram rpc_duration;
};

}  // namespace herald::node
