#pragma once
// The node's hooks (docs/hooks.md): which endpoint each hook uses, the calls, the checks on
// what comes back, the failure policies, and the subscribe answers a backend let the node
// reuse (`ttl_seconds`). Endpoints are rebuilt only when their config changes. Thread-safe;
// answers come on an endpoint's worker thread (or at once on the caller's when the call is
// refused or answered from the cache).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "dataplane/hooks/hook_endpoint.h"

namespace herald::node {

template <typename Reply>
using HookDone = std::function<void(Result<Reply>)>;

// What the connect hook needs to know before a call: whether to call it, and which request
// headers to pass.
struct ConnectHookPlan {
  bool configured = false;
  bool always = false;               // connections with a token are asked too
  std::vector<std::string> headers;  // lower case
};

// Calls per hook and how they ended, for /metrics (herald_node_hook_calls_total).
struct HookCallCounters {
  std::atomic<uint64_t> allowed{0};  // answered without an error
  std::atomic<uint64_t> refused{0};  // answered with an error
  std::atomic<uint64_t> failed{0};   // no usable answer: the failure policy decided
  std::atomic<uint64_t> cached{0};   // answered from the node's cache (subscribe)
};

class HookCaller {
 public:
  // How an endpoint's transports are made (target, secret); tests substitute their own.
  using FactoryMaker = std::function<HookTransportFactory(const HookTarget&, const std::string&)>;

  // Subscribe answers the node keeps at most (reused while their ttl lasts).
  static constexpr size_t kMaxCachedAnswers = 10000;
  // An answer whose `info` is longer is not kept (at most ~40 MiB of answers a node).
  static constexpr size_t kMaxCachedInfoBytes = 4096;
  // How far a refresh the backend failed to answer extends a connection under `allow`.
  static constexpr int64_t kRefreshGraceSeconds = 60;

  explicit HookCaller(FactoryMaker make_factory = makeHookTransportFactory)
      : make_factory_(std::move(make_factory)) {}
  ~HookCaller() { stop(); }

  // Applies a config's hooks (validated by the caller). Endpoints whose config changed are
  // stopped (their calls cancelled and answered unavailable) and made anew; cached answers
  // are forgotten.
  void configure(const herald::v1::HookSettings& settings);

  // A client `rpc`: the backend's checked reply, or kNotFound (no rpc hook), kLimitExceeded
  // (every call slot busy), kUnavailable (no answer in time, or a failed one).
  void rpc(herald::v1::RpcHookRequest request, HookDone<herald::v1::RpcHookReply> done);

  // The other hooks answer with the backend's checked reply (an `error` in it refuses). When
  // the backend fails a call, the endpoint's on_failure decides: `allow` answers an empty
  // reply (a refresh: the current expiry plus kRefreshGraceSeconds), `deny` a kUnavailable
  // status. A call not made (every slot busy: kLimitExceeded; no slot in time, stopping:
  // kUnavailable) is always a failure: clients can bring those about. A hook or endpoint
  // that is not configured answers kNotFound.
  ConnectHookPlan connectPlan() const;
  bool hasRefresh() const;
  void connect(herald::v1::ConnectHookRequest request, HookDone<herald::v1::ConnectHookReply> done);
  void subscribe(const std::string& endpoint, herald::v1::SubscribeHookRequest request,
                 HookDone<herald::v1::SubscribeHookReply> done);
  void publish(const std::string& endpoint, herald::v1::PublishHookRequest request,
               HookDone<herald::v1::PublishHookReply> done);
  void refresh(herald::v1::RefreshHookRequest request, HookDone<herald::v1::RefreshHookReply> done);

  // Stops every endpoint (answering what is queued); later calls are refused.
  void stop();

  const HookCallCounters& counters(HookMethod method) const {
    return counters_[static_cast<size_t>(method)];
  }

 private:
  struct CachedAnswer {
    herald::v1::SubscribeHookReply reply;
    int64_t until_ms = 0;  // steady clock
  };
  std::shared_ptr<HookEndpoint> endpoint(const std::string& name) const;
  void remember(const std::string& key, const herald::v1::SubscribeHookReply& reply);
  HookCallCounters& countersFor(HookMethod method) {
    return counters_[static_cast<size_t>(method)];
  }

  const FactoryMaker make_factory_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, std::shared_ptr<HookEndpoint>> endpoints_;
  herald::v1::HookSettings settings_;  // the hooks' endpoint names (no secrets read here)
  std::unordered_map<std::string, CachedAnswer> cache_;
  HookCallCounters counters_[5];
};

}  // namespace herald::node
