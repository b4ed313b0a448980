#pragma once

#include <string>

#include "dataplane/session/client_session.h"
#include "dataplane/transport/client_transport.h"

namespace websocketpp {
template <typename Config>
class connection;
}  // namespace websocketpp

namespace herald::node {

/**
 * The per-connection part of the WebSocket transport: websocketpp's connection derives from
 * it (the config's connection_base), so the client's session lives inside the connection
 * object (one allocation per client, no side table) and the session writes through the
 * ClientTransport interface implemented here. Defined in ws_client_connection_impl.h.
 */
template <typename Config>
class WsClientConnection : public ClientTransport {
 public:
  bool isOpen() const override;
  size_t bufferedBytes() const override;
  size_t writeFrame(const FramePtr& frame) override;
  size_t writeText(const std::string& text) override;
  void closeWith(uint16_t code, const std::string& reason) override;
  void sendPing() override;
  void setInboundLimit(size_t bytes) override;
  const std::string& requestTarget() const override;
  std::string requestHeader(const std::string& name) const override;

  ClientSession session;
  bool reported_open = false;  // opened() was reported to the handler (closed() must be too)
  bool deflate = false;        // agreed permessage-deflate: written the compressed copies

 private:
  websocketpp::connection<Config>& self() {
    return static_cast<websocketpp::connection<Config>&>(*this);
  }
  const websocketpp::connection<Config>& self() const {
    return static_cast<const websocketpp::connection<Config>&>(*this);
  }
};

}  // namespace herald::node
