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

#include "dataplane/transport/deflate_extension.h"
#include "dataplane/transport/upgrade_request.h"
#include "dataplane/transport/ws_client_connection.h"

namespace herald::node {

// The node's websocketpp config over `Base` (plain or TLS asio) with `Socket`; `Self` is the
// final config, which the connection type and websocketpp's typedefs must name.
template <typename Self, typename Base, typename Socket>
struct NodeWsConfig : public Base {
  typedef Self type;
  typedef Base base;
  // A connection lives on one shard thread for life: no locks, no strands.
  typedef websocketpp::concurrency::none concurrency_type;
  typedef typename base::request_type request_type;
  typedef typename base::response_type response_type;
  typedef typename base::message_type message_type;
  typedef typename base::con_msg_manager_type con_msg_manager_type;
  typedef typename base::endpoint_msg_manager_type endpoint_msg_manager_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::elevel> elog_type;
  typedef websocketpp::log::basic<concurrency_type, websocketpp::log::alevel> alog_type;
  typedef typename base::rng_type rng_type;
  // permessage-deflate without per-connection zlib state (deflate_extension.h); it answers
  // offers only when the node runs with --compression.
  typedef DeflateExtension permessage_deflate_type;

  struct transport_config : public base::transport_config {
    typedef NodeWsConfig::concurrency_type concurrency_type;
    typedef NodeWsConfig::alog_type alog_type;
    typedef NodeWsConfig::elog_type elog_type;
    typedef NodeWsConfig::request_type request_type;
    typedef NodeWsConfig::response_type response_type;
    typedef Socket socket_type;
    static bool const enable_multithreading = false;
  };
  typedef websocketpp::transport::asio::endpoint<transport_config> transport_type;

  // The client's session lives inside websocketpp's connection object.
  typedef WsClientConnection<Self> connection_base;
  // Small read buffer: it is stored inside every connection (sizeof(connection) is ~4.6 KB at
  // 512, ~6 KB at 2048). Clients send small frames; a large one just takes more reads.
  static const size_t connection_read_buffer_size = 512;
  // The node's HTTP routes take no body: read a few KiB at most, then 413 (default 32 MB).
  static const size_t max_http_body_size = kMaxHttpBodyBytes;
  static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
  static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};

struct WsConfig : public NodeWsConfig<WsConfig, websocketpp::config::asio,
                                      websocketpp::transport::asio::basic_socket::endpoint> {};

// The same, over TLS (wss://).
struct WssConfig : public NodeWsConfig<WssConfig, websocketpp::config::asio_tls,
                                       websocketpp::transport::asio::tls_socket::endpoint> {};

}  // namespace herald::node

HERALD_DEFLATE_PROCESSOR(herald::node::WsConfig)
HERALD_DEFLATE_PROCESSOR(herald::node::WssConfig)

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
