#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/fanout/delivery.h"

namespace herald::node {

/**
 * One client's connection as the session and the fan-out see it: write prepared bytes, write
 * a text frame, ping, close with a code. Knows nothing of channels, users or the protocol.
 * Implemented by the WebSocket transport (transport/websocket_listener.cc); mocked in
 * tests/mocks/dataplane/mock_client_transport.h. Touched only on its shard's thread.
 */
class ClientTransport {
 public:
  virtual ~ClientTransport() = default;

  // Open for frames (not closing or closed).
  virtual bool isOpen() const = 0;
  // Bytes handed to the transport and not yet taken by the kernel.
  virtual size_t bufferedBytes() const = 0;
  // Writes prepared bytes (the compressed copy when this connection negotiated compression);
  // returns the bytes put on the wire, 0 when the transport refused them (closing).
  virtual size_t writeFrame(const FramePtr& frame) = 0;
  // Writes one text frame (server replies: framed, or compressed, per connection); returns the
  // bytes put on the wire.
  virtual size_t writeText(const std::string& text) = 0;
  // Starts a close with `code` after what is already written; the peer gets a grace period
  // to read it (docs/protocol.md close codes).
  virtual void closeWith(uint16_t code, const std::string& reason) = 0;
  // A transport-level keepalive (WebSocket ping); no pong in time ends in pingTimedOut().
  virtual void sendPing() = 0;
  // The largest client frame accepted from now on (larger: close 1009).
  virtual void setInboundLimit(size_t bytes) = 0;
  // The request target the client connected with ("/ws?token=...").
  virtual const std::string& requestTarget() const = 0;
  // A header of the upgrade request (name in any case); empty when it had none. Only while
  // the session opens: the headers are freed once it has.
  virtual std::string requestHeader(const std::string& name) const = 0;
  // The token of the herald_token cookie, where this transport takes one (Server-Sent Events
  // from the node's own origin or a listed one; never a WebSocket, which no CORS protects).
  virtual std::optional<std::string> cookieToken() const { return std::nullopt; }
};

}  // namespace herald::node
