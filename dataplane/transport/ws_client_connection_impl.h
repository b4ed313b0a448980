#pragma once

// WsClientConnection's methods; included by the transport's .cc files after ws_config.h.

#include "dataplane/fanout/prepared_frame.h"
#include "dataplane/transport/ws_client_connection.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node {

// How long a closing connection may take to read what the socket holds and the close frame
// (websocketpp cuts it after 5 s by default: a briefly stalled client saw 1006, not 4008).
constexpr long kCloseGraceMs = 30000;

template <typename Config>
bool WsClientConnection<Config>::isOpen() const {
  return self().get_state() == websocketpp::session::state::open;
}

template <typename Config>
size_t WsClientConnection<Config>::bufferedBytes() const {
  return self().get_buffered_amount();
}

template <typename Config>
size_t WsClientConnection<Config>::writeFrame(const FramePtr& frame) {
  const WsMessagePtr* message = &frame->message;
  if (deflate && frame->deflated() != nullptr) {
    message = &frame->deflated();  // compressed once, on the first such write
  }
  if (self().send(*message)) {
    return 0;
  }
  return wireBytes(*message);
}

template <typename Config>
size_t WsClientConnection<Config>::writeText(const std::string& text) {
  // Framed as the fan-out frames (websocketpp's send(text) would compress every reply, small
  // ones too): compressed past compression_min_bytes when this connection agreed it.
  return writeFrame(prepareTextFrame(text));
}

template <typename Config>
void WsClientConnection<Config>::closeWith(uint16_t code, const std::string& reason) {
  // The close frame waits behind what the socket still holds: a client that reads again
  // within the grace gets it (and those frames) instead of a cut connection (1006).
  self().set_close_handshake_timeout(kCloseGraceMs);
  websocketpp::lib::error_code ec;
  self().close(code, reason, ec);
}

template <typename Config>
void WsClientConnection<Config>::sendPing() {
  websocketpp::lib::error_code ec;
  self().ping("", ec);
}

template <typename Config>
void WsClientConnection<Config>::setInboundLimit(size_t bytes) {
  self().set_max_message_size(bytes);
}

template <typename Config>
const std::string& WsClientConnection<Config>::requestTarget() const {
  return self().get_resource();
}

template <typename Config>
std::string WsClientConnection<Config>::requestHeader(const std::string& name) const {
  return self().get_request_header(name);
}

}  // namespace herald::node
