#pragma once

// The server's side of permessage-deflate negotiation (RFC 7692 section 7.1).

#include <map>
#include <optional>
#include <string>

namespace herald::node {

// The Sec-WebSocket-Extensions answer to one `permessage-deflate` offer, given its parameters
// (name -> value, "" for none), or nullopt to decline it. Herald always answers with
// `server_no_context_takeover; client_no_context_takeover` (7.1.1.1-2: a server may add them
// to any offer), so that no zlib state outlives a message. An offer is declined when it has an
// unknown or malformed parameter (7.1), or asks the server for a window below 15 bits: the
// node compresses once for every connection, with one window.
std::optional<std::string> answerDeflateOffer(const std::map<std::string, std::string>& params);

}  // namespace herald::node
