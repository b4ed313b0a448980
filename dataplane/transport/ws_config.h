#pragma once

// websocketpp configuration for herald-node. Included only by the data plane's .cc files that
// need websocketpp (it is heavy to compile).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include "common/jwt_verifier.h"
#include "common/rate_limiter.h"
#include "dataplane/fanout/outbound_queue.h"
#include "dataplane/session/stream_recovery.h"
#include "dataplane/transport/upgrade_request.h"

namespace herald::node {

struct PreparedFrame;
using FramePtr = std::shared_ptr<const PreparedFrame>;

// Per-connection state lives inside websocketpp's connection object (its connection_base),
// so a connection costs one allocation and no side table.
struct ConnState {
  uint64_t client_seq = 0;
  uint32_t all_index = UINT32_MAX;  // position in the shard's connection list
  bool open = false;
  bool greeted = false;      // `connected` sent; false while waiting for a token
  int64_t opened_ms = 0;     // steady clock, for the authentication deadline
  int64_t last_ping_ms = 0;  // steady clock, last WebSocket ping sent
  int64_t expires_at = 0;    // token `exp` (Unix seconds); 0 = none
  std::string user;          // empty: anonymous
  std::shared_ptr<const herald::TokenClaims> claims;  // null: anonymous
  std::vector<std::string> channels;                  // subscribed, small (limit 50 by default)
  std::string ip;                    // remote address (fits the small-string buffer for IPv4)
  herald::TokenBucket bucket;        // inbound message rate
  uint16_t rate_violations = 0;      // rate-limited frames in a row
  uint16_t publishes_in_flight = 0;  // client publications waiting for the control plane
  // Frames the socket could not take yet; allocated only while the client lags behind.
  std::unique_ptr<OutboundQueue<FramePtr>> backlog;
  // Streams being recovered (usually none: an empty vector allocates nothing).
  std::vector<std::unique_ptr<StreamRecovery<FramePtr>>> recovering;
  std::optional<StreamPosition> pending_user_since;  // until the user stream can recover
  bool user_since_invalid = false;                   // reported after `connected`
};

struct WsConfig : public websocketpp::config::asio {
  typedef WsConfig type;
  typedef websocketpp::config::asio base;
  // A connection lives on one shard thread for life: no locks, no strands.
  typedef websocketpp::concurrency::none concurrency_type;
  typedef base::request_type request_type;
  typedef base::response_type response_type;
  typedef base::message_type message_type;
  typedef base::con_msg_manager_type con_msg_manager_type;
  typedef base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel> elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel> alog_type;
  typedef base::rng_type rng_type;

  struct transport_config : public base::transport_config {
    typedef type::concurrency_type concurrency_type;
    typedef type::alog_type alog_type;
    typedef type::elog_type elog_type;
    typedef type::request_type request_type;
    typedef type::response_type response_type;
    typedef websocketpp::transport::asio::basic_socket::endpoint socket_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  typedef ConnState connection_base;
  // Small read buffer: it is stored inside every connection (sizeof(connection) is ~4.6 KB at
  // 512, ~6 KB at 2048). Clients send small frames; a large one just takes more reads.
  static const size_t connection_read_buffer_size = 512;
  // The node's HTTP routes take no body: read a few KiB at most, then 413 (default 32 MB).
  static const size_t max_http_body_size = kMaxHttpBodyBytes;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

// The same, over TLS (wss://).
struct WssConfig : public websocketpp::config::asio_tls {
  typedef WssConfig type;
  typedef websocketpp::config::asio_tls base;
  typedef websocketpp::concurrency::none concurrency_type;
  typedef base::request_type request_type;
  typedef base::response_type response_type;
  typedef base::message_type message_type;
  typedef base::con_msg_manager_type con_msg_manager_type;
  typedef base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel> elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel> alog_type;
  typedef base::rng_type rng_type;

  struct transport_config : public base::transport_config {
    typedef type::concurrency_type concurrency_type;
    typedef type::alog_type alog_type;
    typedef type::elog_type elog_type;
    typedef type::request_type request_type;
    typedef type::response_type response_type;
    typedef websocketpp::transport::asio::tls_socket::endpoint socket_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  typedef ConnState connection_base;
  static const size_t connection_read_buffer_size = 512;
  // The node's HTTP routes take no body: read a few KiB at most, then 413 (default 32 MB).
  static const size_t max_http_body_size = kMaxHttpBodyBytes;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

}  // namespace herald::node

// websocketpp formats an access-log line with a stringstream for every open, close and failed
// handshake even when access logging is off (alevel::none); the node logs none of them.
template <>
inline void websocketpp::connection<herald::node::WsConfig>::log_open_result() {}
template <>
inline void websocketpp::connection<herald::node::WsConfig>::log_close_result() {}
template <>
inline void websocketpp::connection<herald::node::WsConfig>::log_fail_result() {}
template <>
inline void websocketpp::connection<herald::node::WssConfig>::log_open_result() {}
template <>
inline void websocketpp::connection<herald::node::WssConfig>::log_close_result() {}
template <>
inline void websocketpp::connection<herald::node::WssConfig>::log_fail_result() {}

#include "dataplane/transport/ws_version_policy.h"
