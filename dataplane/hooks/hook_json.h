#pragma once
// The HTTP form of the hooks (docs/hooks.md): HookService's messages as JSON, except that
// `data` is the JSON value itself, not a string holding it (spliced as text both ways, so
// big numbers and key order survive). Pure functions: unit-tested and fuzzed.
#include <string>
#include <string_view>

#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald::node {

// Largest reply body read from a backend; a longer one fails the call.
inline constexpr size_t kMaxHookReplyBytes = 1 << 20;

std::string rpcRequestJson(const herald::v1::RpcHookRequest& request);

// A backend's HTTP reply body: `{"data": ANY}` or `{"error": {"code": "...", "message":
// "..."}}` (other members ignored). Not ok (kBadRequest, saying why) for anything else,
// including an object with neither.
Result<herald::v1::RpcHookReply> parseRpcReplyJson(std::string_view body);

// Checks a reply from either transport before a client sees it: `data` valid JSON nested at
// most kMaxJsonDepth - 1 levels (the frame wraps it; empty becomes "null") of at most
// kMaxHookReplyBytes; an error's code
// validHookErrorCode (else "backend_error") and its message at most 1024 bytes (cut).
Status checkRpcReply(herald::v1::RpcHookReply* reply);

}  // namespace herald::node
