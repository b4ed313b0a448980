// The ws:// listener: the one instantiation of WebSocketListener<WsConfig>.
#include "dataplane/transport/websocket_listener_impl.h"

namespace herald::node {

std::unique_ptr<ClientListener> makePlainWebSocketListener(asio::io_context& io,
                                                           TransportHandler& handler,
                                                           const WebSocketOptions& options) {
  return std::make_unique<websocket_listener_detail::WebSocketListener<WsConfig>>(io, handler,
                                                                                  options);
}

}  // namespace herald::node
