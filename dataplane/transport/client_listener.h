#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include "dataplane/transport/transport_handler.h"

namespace herald::node {

/**
 * Accepts clients on one shard's loop and reports them to the shard's TransportHandler.
 * Owned by the shard; its methods run on the shard's thread (listen() before the loop runs).
 */
class ClientListener {
 public:
  virtual ~ClientListener() = default;
  // Binds host:port (port 0 picks one); returns the bound port. Start-up only: throws.
  virtual uint16_t listen(const std::string& host, uint16_t port) = 0;
  virtual void stopAccepting() = 0;
  // The largest client frame for connections accepted from now on.
  virtual void setInboundLimit(size_t bytes) = 0;
  // Keepalive answers (pongs) are withheld from a client this many bytes behind.
  virtual void setSocketWindow(size_t bytes) = 0;
};

struct WebSocketOptions {
  uint32_t handshake_timeout_ms = 5000;
  uint32_t pong_timeout_ms = 10000;
  size_t inbound_limit = 65536;
  size_t socket_window = 256 * 1024;
  // wss:// when set: PEM certificate chain and private key files (read at start: throws).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// The WebSocket transport (ws:// or wss://, websocketpp): /ws upgrades, RFC 6455 only
// (transport/ws_version_policy.h), SO_REUSEPORT so that every shard listens on one port.
std::unique_ptr<ClientListener> makeWebSocketListener(asio::io_context& io,
                                                      TransportHandler& handler,
                                                      const WebSocketOptions& options);

}  // namespace herald::node
