#pragma once
// The node's hooks (docs/hooks.md): which endpoint each hook uses, and the calls. Endpoints
// are rebuilt only when their config changes. Thread-safe; answers come on an endpoint's
// worker thread (or at once on the caller's when the call is refused).
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "dataplane/hooks/hook_endpoint.h"

namespace herald::node {

class HookCaller {
 public:
  // How an endpoint's transports are made (target, secret); tests substitute their own.
  using FactoryMaker = std::function<HookTransportFactory(const HookTarget&, const std::string&)>;

  explicit HookCaller(FactoryMaker make_factory = makeHookTransportFactory)
      : make_factory_(std::move(make_factory)) {}
  ~HookCaller() { stop(); }

  // Applies a config's hooks (validated by the caller). Endpoints whose config changed are
  // stopped (their calls cancelled and answered unavailable) and made anew.
  void configure(const herald::v1::HookSettings& settings);

  using RpcDone = std::function<void(Result<herald::v1::RpcHookReply>)>;
  // A client `rpc`: the backend's checked reply, or kNotFound (no rpc hook), kLimitExceeded
  // (every call slot busy), kUnavailable (no answer in time, or a failed one).
  void rpc(herald::v1::RpcHookRequest request, RpcDone done);

  // Stops every endpoint (answering what is queued); later calls are refused.
  void stop();

 private:
  const FactoryMaker make_factory_;
  std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<HookEndpoint>> endpoints_;
  std::string rpc_;
};

}  // namespace herald::node
