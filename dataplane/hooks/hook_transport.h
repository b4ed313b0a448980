#pragma once
// One connection to a backend's hooks (docs/hooks.md): HTTP POST of JSON, or gRPC
// HookService. Blocking: HookEndpoint calls it from its own worker threads, one transport per
// worker (an HTTP client keeps its connection alive between calls).
#include <chrono>
#include <functional>
#include <memory>

#include "common/hook_settings.h"
#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald::node {

class HookTransport {
 public:
  virtual ~HookTransport() = default;
  // The backend's checked reply (checkRpcReply), or kUnavailable saying why there is none
  // (no connection, timeout, an HTTP status other than 200, a reply that is not one).
  virtual Result<herald::v1::RpcHookReply> rpc(const herald::v1::RpcHookRequest& request,
                                               std::chrono::milliseconds timeout) = 0;
  // Makes a call in progress on another thread fail at once (its deadline passed, or the
  // endpoint is stopping): a backend that trickles bytes cannot hold a worker past it.
  // Thread-safe; a later call works normally.
  virtual void cancel() = 0;
};

using HookTransportFactory = std::function<std::unique_ptr<HookTransport>()>;

// Transports to `target`: HTTP(S) ones each with their own client, gRPC ones sharing one
// channel. With a `secret`, every call is signed (docs/hooks.md "Signatures").
HookTransportFactory makeHookTransportFactory(const HookTarget& target, const std::string& secret);

// The signature header's value for `body` sent at `unix_s`: "t=<unix_s>,sha256=<hex of
// HMAC-SHA256(secret, "<unix_s>." + body)>".
std::string hookSignature(const std::string& secret, int64_t unix_s, const std::string& body);

}  // namespace herald::node
