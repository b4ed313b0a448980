#pragma once
// The hooks configuration (proto/herald/v1/hooks.proto) as both planes read it: herald-control
// validates its config file with it, herald-node checks what it is sent again.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald {

inline constexpr uint32_t kDefaultHookTimeoutMs = 1000;
inline constexpr uint32_t kMaxHookTimeoutMs = 30000;
inline constexpr uint32_t kDefaultHookInFlight = 64;
inline constexpr uint32_t kMaxHookInFlight = 1024;
inline constexpr size_t kMaxHookEndpoints = 32;
inline constexpr size_t kMaxConnectHeaders = 16;

// Where an endpoint's URL points.
struct HookTarget {
  enum class Kind { kHttp, kHttps, kGrpc } kind = Kind::kHttp;
  std::string host;  // as written ("[::1]" keeps its brackets)
  uint16_t port = 0;
  std::string path;  // HTTP(S): the prefix each method's name is appended to ("" or "/x")
  bool tls = false;  // grpcs://: gRPC over TLS (kGrpc); https is its own kind
};

// Parses http://HOST[:PORT][/PATH], https://..., grpc://HOST:PORT or grpcs://HOST:PORT.
Result<HookTarget> parseHookUrl(std::string_view url);

// Every endpoint well formed and uniquely named, every hook naming one that exists.
Status validateHookSettings(const herald::v1::HookSettings& hooks);

// A namespace's subscribe_hook and publish_hook (either may be empty) name endpoints of
// `hooks`.
Status checkNamespaceHooks(const herald::v1::HookSettings& hooks, const std::string& subscribe,
                           const std::string& publish);

// The endpoint's timeout and call slots with defaults filled in.
uint32_t hookTimeoutMs(const herald::v1::HookEndpoint& endpoint);
uint32_t hookInFlight(const herald::v1::HookEndpoint& endpoint);

// A client's rpc method name: 1..128 of A-Z a-z 0-9 _ . : / -.
bool validRpcMethod(std::string_view method);
// An application error code a backend may pass to clients: 1..64 of a-z 0-9 _.
bool validHookErrorCode(std::string_view code);

}  // namespace herald
