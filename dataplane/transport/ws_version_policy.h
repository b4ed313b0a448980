#pragma once

// Only RFC 6455 (version 13) upgrades are accepted. websocketpp 0.8.2 also speaks Hixie-76
// and hybi-07/08, which have no message-size limit or UTF-8 check, and answers a request
// with no version (taken as Hixie-76) with a 500. These specialisations replace its
// processor choice for the node's two configs; included at the end of ws_config.h, before
// any connection is instantiated.

#include "dataplane/transport/upgrade_request.h"

namespace herald::node::detail {

template <typename Request, typename Response>
websocketpp::lib::error_code checkWebsocketVersion(Request& request, Response& response) {
  if (websocketVersionStatus(request.get_header("Sec-WebSocket-Version")) != 0) {
    response.set_status(websocketpp::http::status_code::upgrade_required);
    response.replace_header("Sec-WebSocket-Version", "13");
    response.replace_header("Content-Type", "application/json");
    response.set_body(
        "{\"error\":\"bad_request\",\"message\":\"WebSocket version 13 (RFC 6455) is "
        "required\"}");
    return websocketpp::error::make_error_code(websocketpp::error::unsupported_version);
  }
  return websocketpp::lib::error_code();
}

}  // namespace herald::node::detail

template <>
inline websocketpp::lib::error_code
websocketpp::connection<herald::node::WsConfig>::initialize_processor() {
  if (!processor::is_websocket_handshake(m_request)) {
    return lib::error_code();  // plain HTTP: the routes answer it
  }
  if (auto ec = herald::node::detail::checkWebsocketVersion(m_request, m_response)) {
    return ec;
  }
  m_processor = get_processor(13);
  return lib::error_code();
}

template <>
inline websocketpp::lib::error_code
websocketpp::connection<herald::node::WssConfig>::initialize_processor() {
  if (!processor::is_websocket_handshake(m_request)) {
    return lib::error_code();
  }
  if (auto ec = herald::node::detail::checkWebsocketVersion(m_request, m_response)) {
    return ec;
  }
  m_processor = get_processor(13);
  return lib::error_code();
}
