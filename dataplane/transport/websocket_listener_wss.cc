// The wss:// listener: the one instantiation of WebSocketListener<WssConfig>.
#include "dataplane/transport/websocket_listener_impl.h"

namespace herald::node {

std::unique_ptr<ClientListener> makeTlsWebSocketListener(asio::io_context& io,
                                                         TransportHandler& handler,
                                                         const WebSocketOptions& options) {
  return std::make_unique<websocket_listener_detail::WebSocketListener<WssConfig>>(io, handler,
                                                                                   options);
}

}  // namespace herald::node
