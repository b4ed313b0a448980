#pragma once
// How Herald signs what it sends a backend (docs/hooks.md "Signatures"): hook calls from
// herald-node and event batches from herald-control alike.
#include <cstdint>
#include <string>

namespace herald {

// The name of the HTTP header (and, lower case, the gRPC metadata key) that carries it.
inline constexpr char kHookSignatureHeader[] = "X-Herald-Signature";

// The signature header's value for `body` sent at `unix_s`: "t=<unix_s>,sha256=<hex of
// HMAC-SHA256(secret, "<unix_s>." + body)>".
std::string hookSignature(const std::string& secret, int64_t unix_s, const std::string& body);

}  // namespace herald
