// makeWebSocketListener: ws:// or wss:// by the options (the listener itself is in
// websocket_listener_impl.h, one instantiation per file beside this one).
#include "dataplane/transport/client_listener.h"

namespace herald::node {

std::unique_ptr<ClientListener> makePlainWebSocketListener(asio::io_context& io,
                                                           TransportHandler& handler,
                                                           const WebSocketOptions& options);
std::unique_ptr<ClientListener> makeTlsWebSocketListener(asio::io_context& io,
                                                         TransportHandler& handler,
                                                         const WebSocketOptions& options);

std::unique_ptr<ClientListener> makeWebSocketListener(asio::io_context& io,
                                                      TransportHandler& handler,
                                                      const WebSocketOptions& options) {
  if (options.tls_cert_file.empty()) {
    return makePlainWebSocketListener(io, handler, options);
  }
  return makeTlsWebSocketListener(io, handler, options);
}

}  // namespace herald::node
