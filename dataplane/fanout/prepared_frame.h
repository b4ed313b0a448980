#pragma once

// The definition behind FramePtr: a websocketpp message with its header already built. Only
// the WebSocket transport and delivery.cc include it (websocketpp is heavy to compile).

#include <mutex>
#include <vector>

#include "dataplane/fanout/delivery.h"
#include "dataplane/sse/sse_events.h"
#include "dataplane/transport/ws_config.h"

namespace herald::node {

using WsMessagePtr = WsConfig::message_type::ptr;

struct PreparedFrame {
  WsMessagePtr message;
  // A joined frame's frames (joinFrames), kept only on a node with --compression: its
  // compressed copy is theirs, back to back.
  std::vector<FramePtr> parts;

  // The same message compressed (permessage-deflate, RSV1 set) for connections that agreed
  // it: made by the first such connection to write it (on any shard), then shared by all.
  // Null when compression is off, the payload is under compression_min_bytes, or it did not
  // shrink. A frame no compressing connection writes is never compressed.
  const WsMessagePtr& deflated() const;

  // The same frames as Server-Sent Events (sse/sse_frame.cc): one per message of a joined
  // run, each with its stream position when it has one. Made by the first SSE stream to
  // write the frame, then shared by all; a frame no SSE stream writes never has them.
  struct SseEvent {
    std::string data;  // "data: ...\n\n"
    std::optional<MessagePosition> position;
  };
  const std::vector<SseEvent>& sseEvents() const;

 private:
  mutable std::once_flag deflate_once_;
  mutable WsMessagePtr deflated_;
  mutable std::once_flag sse_once_;
  mutable std::vector<SseEvent> sse_events_;
};

// Bytes a prepared message puts on the wire (header and payload).
inline size_t wireBytes(const WsMessagePtr& message) {
  return message->get_header().size() + message->get_payload().size();
}

// Both flavours share one message type, so a frame prepared once serves ws:// and wss://.
static_assert(std::is_same_v<WsConfig::message_type, WssConfig::message_type>);

}  // namespace herald::node
