#pragma once
// One connection to a backend's hooks (docs/hooks.md): HTTP POST of JSON, or gRPC
// HookService. Blocking: HookEndpoint calls it from its own worker threads, one transport per
// worker (an HTTP client keeps its connection alive between calls).
#include <chrono>
#include <functional>
#include <memory>

#include "common/hook_settings.h"
#include "common/hook_signature.h"
#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald::node {

// HookService's methods; an HTTP endpoint gets each at <url>/<hookMethodName>.
enum class HookMethod { kRpc, kConnect, kSubscribe, kPublish, kRefresh };
const char* hookMethodName(HookMethod method);  // "rpc", "connect", ...

class HookTransport {
 public:
  virtual ~HookTransport() = default;
  // Calls `method` with `request` (its request message) and fills `reply` (its reply
  // message, as the backend sent it: not yet checked). kUnavailable says why there is no
  // reply (no connection, timeout, an HTTP status other than 200, a body that is not one).
  virtual Status call(HookMethod method, const google::protobuf::Message& request,
                      google::protobuf::Message* reply, std::chrono::milliseconds timeout) = 0;
  // Makes a call in progress on another thread fail at once (its deadline passed, or the
  // endpoint is stopping): a backend that trickles bytes cannot hold a worker past it.
  // Thread-safe; a later call works normally.
  virtual void cancel() = 0;
};

using HookTransportFactory = std::function<std::unique_ptr<HookTransport>()>;

// Transports to `target`: HTTP(S) ones each with their own client, gRPC ones sharing one
// channel. With a `secret`, every call is signed (docs/hooks.md "Signatures").
HookTransportFactory makeHookTransportFactory(const HookTarget& target, const std::string& secret);

}  // namespace herald::node
