#pragma once

// The definition behind FramePtr: a websocketpp message with its header already built. Only
// the WebSocket transport and delivery.cc include it (websocketpp is heavy to compile).

#include <string_view>

#include "dataplane/fanout/delivery.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node {

using WsMessagePtr = WsConfig::message_type::ptr;

struct PreparedFrame {
  WsMessagePtr message;
  // The same message compressed (permessage-deflate, RSV1 set), for the connections that
  // negotiated it; null when compression is off, the payload is small, or it did not shrink.
  WsMessagePtr deflated;
};

// The text frame (header and payload) of `payload` compressed once for every connection that
// negotiated permessage-deflate; null when it does not come out smaller.
WsMessagePtr deflatedTextMessage(std::string_view payload);

// Both flavours share one message type, so a frame prepared once serves ws:// and wss://.
static_assert(std::is_same_v<WsConfig::message_type, WssConfig::message_type>);

}  // namespace herald::node
