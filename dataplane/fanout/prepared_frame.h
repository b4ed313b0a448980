#pragma once

// The definition behind FramePtr: a websocketpp message with its header already built. Only
// the WebSocket transport and delivery.cc include it (websocketpp is heavy to compile).

#include "dataplane/fanout/delivery.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node {

struct PreparedFrame {
  WsConfig::message_type::ptr message;
};

// Both flavours share one message type, so a frame prepared once serves ws:// and wss://.
static_assert(std::is_same_v<WsConfig::message_type, WssConfig::message_type>);

}  // namespace herald::node
