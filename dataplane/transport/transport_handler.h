#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/http/http_routes.h"

namespace herald::node {

class ClientSession;
class ClientTransport;

// What a client asked for before it is let in (an upgrade, or a stream request).
struct UpgradeRequest {
  std::string_view path;      // "/ws"
  const std::string& origin;  // Origin header, may be empty
  const std::string& ip;      // the peer's address ("?" when unknown)
  bool sse = false;           // GET or POST /sse (not an upgrade)
};

// Why an upgrade is refused: an HTTP status and the JSON error of docs/api.md.
struct Refusal {
  int http_status = 503;
  const char* code = "unavailable";
  std::string message;
};

// Things a transport notices that only it can see; counted in /stats.
enum class TransportEvent {
  kPongWithheld,       // a ping not answered: the client is not reading
  kHandshakeTimeout,   // the upgrade did not finish in time
  kFrameTooLarge,      // closed 1009
  kInvalidUtf8,        // closed 1007
  kProtocolViolation,  // closed 1002
  kDeflateOpened,      // a connection that negotiated permessage-deflate opened
  kDeflateClosed,      // ... and closed
  kSseOpened,          // a Server-Sent Events stream started (GET /sse)
  kSseClosed,          // ... and ended
  kSsePost,            // a frame POSTed to /sse
};

/**
 * What a transport reports to the shard that owns it, on that shard's thread. Each client
 * connection carries a ClientSession, created by the transport and handed over at opened();
 * the shard drives it from there. A second transport (SSE) reports the same events.
 */
class TransportHandler {
 public:
  virtual ~TransportHandler() = default;

  // An upgrade request: nullopt lets it in, a Refusal answers it with an HTTP error.
  // Also asked for GET and POST /sse (the Server-Sent Events transport, dataplane/sse/).
  virtual std::optional<Refusal> admit(const UpgradeRequest& request) = 0;
  // Whether `origin` is in an allowed_origins list that is set: only such pages may read the
  // node's answers with their cookies (CORS with credentials).
  virtual bool originListed(const std::string& origin) = 0;
  // The client is connected; `session` lives as long as the connection, until closed().
  virtual void opened(ClientSession& session, ClientTransport& transport,
                      const std::string& ip) = 0;
  // One client frame (`text` false for binary).
  virtual void received(ClientSession& session, const std::string& payload, bool text) = 0;
  // The connection is gone, with the close code and reason of its closing handshake (1006
  // when there was none); the session must not be touched after this returns.
  virtual void closed(ClientSession& session, uint16_t code, const std::string& reason) = 0;
  virtual void pingTimedOut(ClientSession& session) = 0;
  // A plain HTTP request on the client port.
  virtual HttpResponse http(const std::string& method, const std::string& path) = 0;
  virtual void count(TransportEvent event) = 0;
};

}  // namespace herald::node
