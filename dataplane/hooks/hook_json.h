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

// The other hooks' HTTP forms (docs/hooks.md): requests as JSON objects (a publication's
// `data` spliced as written), replies `{}` (allow) or with the members of the reply message,
// `info`/`data` as JSON values kept as written. Not ok (kBadRequest) for a reply that is not
// one.
std::string connectRequestJson(const herald::v1::ConnectHookRequest& request);
std::string subscribeRequestJson(const herald::v1::SubscribeHookRequest& request);
std::string publishRequestJson(const herald::v1::PublishHookRequest& request);
std::string refreshRequestJson(const herald::v1::RefreshHookRequest& request);
Result<herald::v1::ConnectHookReply> parseConnectReplyJson(std::string_view body);
Result<herald::v1::SubscribeHookReply> parseSubscribeReplyJson(std::string_view body);
Result<herald::v1::PublishHookReply> parsePublishReplyJson(std::string_view body);
Result<herald::v1::RefreshHookReply> parseRefreshReplyJson(std::string_view body);

// Checks from either transport before the node acts on a reply: an error as checkRpcReply
// does (and nothing else kept with it); `info`/`data` JSON as checkRpcReply requires of
// `data`; a connect reply's user at most 256 bytes and at most 100 channels; expiries not
// negative; ttl_seconds at most 3600 (cut).
Status checkConnectReply(herald::v1::ConnectHookReply* reply);
Status checkSubscribeReply(herald::v1::SubscribeHookReply* reply);
Status checkPublishReply(herald::v1::PublishHookReply* reply);
Status checkRefreshReply(herald::v1::RefreshHookReply* reply);

}  // namespace herald::node
