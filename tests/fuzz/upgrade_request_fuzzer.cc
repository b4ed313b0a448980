// libFuzzer target: an HTTP request on the node's port as the node handles it before a
// WebSocket opens — websocketpp's request parser (request line, headers, body limit), the
// version policy, RFC 6455 handshake validation, the URI, subprotocols, and the query the
// node reads (token, subscribe, user_since). Crashes, leaks and broken invariants are findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <websocketpp/config/core.hpp>
#include <websocketpp/http/request.hpp>
#include <websocketpp/processors/hybi13.hpp>

#include "common/channel_name.h"
#include "dataplane/transport/upgrade_request.h"

namespace {

using Config = websocketpp::config::core;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  websocketpp::http::parser::request request;
  request.set_max_body_size(herald::node::kMaxHttpBodyBytes);
  // Fed in two pieces, as a socket would deliver it.
  const size_t half = size / 2;
  try {
    size_t used = request.consume(reinterpret_cast<const char*>(data), half);
    if (!request.ready()) {
      used += request.consume(reinterpret_cast<const char*>(data) + half, size - half);
    }
    (void)used;
  } catch (const websocketpp::http::exception& e) {
    // A refusal must carry a 4xx status: the node never answers bad input with a 5xx.
    if (e.m_error_code != websocketpp::http::status_code::request_entity_too_large &&
        e.m_error_code != websocketpp::http::status_code::request_header_fields_too_large &&
        e.m_error_code != websocketpp::http::status_code::bad_request) {
      __builtin_trap();
    }
    return 0;
  }
  if (!request.ready()) {
    return 0;
  }
  if (request.get_body().size() > herald::node::kMaxHttpBodyBytes) {
    __builtin_trap();  // the body limit held
  }

  const std::string& resource = request.get_uri();
  const std::string_view path = herald::node::requestPath(resource);
  if (path.size() > resource.size()) {
    __builtin_trap();
  }
  herald::node::ConnectQuery query = herald::node::parseConnectQuery(resource);
  if (query.subscribe) {
    for (const auto& channel : *query.subscribe) {
      (void)herald::parseChannelName(channel);
    }
  }
  if (query.user_since && query.user_since_invalid) {
    __builtin_trap();
  }

  if (!websocketpp::processor::is_websocket_handshake(request)) {
    return 0;
  }
  const int status =
      herald::node::websocketVersionStatus(request.get_header("Sec-WebSocket-Version"));
  if (status != 0) {
    if (status != 426) {
      __builtin_trap();
    }
    return 0;
  }
  // Version 13: what websocketpp's RFC 6455 processor does with the rest of the request.
  auto manager = std::make_shared<Config::con_msg_manager_type>();
  Config::rng_type rng;
  websocketpp::processor::hybi13<Config> processor(false, true, manager, rng);
  if (processor.validate_handshake(request)) {
    return 0;  // 400
  }
  (void)processor.negotiate_extensions(request);
  auto uri = processor.get_uri(request);
  (void)uri->get_valid();
  std::vector<std::string> subprotocols;
  (void)processor.extract_subprotocols(request, subprotocols);
  websocketpp::http::parser::response response;
  (void)processor.process_handshake(request, "", response);
  return 0;
}
