#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/session/client_protocol.h"

namespace herald::node {

// What the node takes from an HTTP request on its port before a WebSocket opens: the
// version check of RFC 6455 §4.4 and the query parameters of docs/protocol.md#connecting.
// Knows nothing of sockets, so the unit tests and the upgrade fuzzer drive it directly.

// Largest HTTP request body the node reads: a frame POSTed to /sse (the default frame limit,
// max_inbound_frame_bytes, is 64 KiB; the node's other routes take none). Larger gets 413.
inline constexpr size_t kMaxHttpBodyBytes = 65536;

// The HTTP status for an upgrade's Sec-WebSocket-Version: 0 for "13", the only version the
// node speaks; 426 (with `Sec-WebSocket-Version: 13`) for anything else, absent included:
// older drafts (Hixie-76, hybi-07/08) have no message-size limit and no UTF-8 check.
int websocketVersionStatus(std::string_view version_header);

// The query string's parameters as the node reads them when a connection opens.
struct ConnectQuery {
  std::optional<std::string> token;                   // ?token= (URL-decoded)
  std::optional<std::vector<std::string>> subscribe;  // ?subscribe=a,b
  bool subscribe_malformed = false;                   // a bad %-escape in subscribe=
  std::optional<StreamPosition> user_since;           // ?user_since=OFFSET[:EPOCH]
  bool user_since_invalid = false;                    // present but malformed
  // ?last_event_id= (the Last-Event-ID of docs/protocol.md "Server-Sent Events", for clients
  // that cannot set the header)
  std::optional<std::string> last_event_id;
};

// `resource` is the request target ("/ws?token=...&subscribe=a,b").
ConnectQuery parseConnectQuery(std::string_view resource);

// The token of an `Authorization: Bearer TOKEN` header; nullopt for any other.
std::optional<std::string> bearerToken(std::string_view authorization);

// The value of cookie `name` in a Cookie header ("a=1; herald_token=..."); nullopt if absent.
std::optional<std::string> cookieValue(std::string_view cookie_header, std::string_view name);

// The cookie a browser may carry its token in, where it cannot put it in the URL.
inline constexpr std::string_view kTokenCookie = "herald_token";

// The path of a request target, without its query.
std::string_view requestPath(std::string_view resource);

}  // namespace herald::node
