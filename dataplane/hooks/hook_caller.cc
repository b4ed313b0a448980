#include "dataplane/hooks/hook_caller.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cctype>

#include "common/clock.h"
#include "dataplane/hooks/hook_json.h"

namespace herald::node {

namespace {

std::string hookLabel(HookMethod method) {
  return std::string("the ") + hookMethodName(method) + " hook";
}

// How a call ended, for the failure policy: `made` is false when the backend was never
// asked (no endpoint, every slot busy, no slot in time, stopping) — conditions a client can
// bring about, so `allow` must not apply to them.
template <typename Reply>
using Answer = std::function<void(Result<Reply>, bool made)>;

// One call of `method` on `endpoint`: `done` hears exactly once, with the backend's reply
// after `check`, or with why there is none.
template <typename Reply, typename Request>
void callEndpoint(const std::shared_ptr<HookEndpoint>& endpoint, HookMethod method, Request request,
                  Status (*check)(Reply*), Answer<Reply> done) {
  if (endpoint == nullptr) {
    done(Status(ErrorCode::kNotFound,
                "this server has no " + std::string(hookMethodName(method)) + " hook"),
         false);
    return;
  }
  auto shared = std::make_shared<Answer<Reply>>(std::move(done));
  const auto submitted = endpoint->submit(
      [request = std::move(request), shared, method, check](
          HookTransport* transport, std::chrono::milliseconds left, HookEndpoint::NotMade why) {
        if (transport == nullptr) {
          (*shared)(Status(ErrorCode::kUnavailable,
                           why == HookEndpoint::NotMade::kStopped
                               ? hookLabel(method) + " was reconfigured or is stopping: not called"
                               : "no free call slot for " + hookLabel(method) +
                                     " within its timeout: not called"),
                    false);
          return;
        }
        Reply reply;
        Status s = transport->call(method, request, &reply, left);
        if (s.isOk()) {
          s = check(&reply);
        }
        if (!s.isOk()) {
          (*shared)(Status(ErrorCode::kUnavailable, s.message()), true);
          return;
        }
        (*shared)(std::move(reply), true);
      });
  if (submitted == HookEndpoint::Submitted::kBusy) {
    (*shared)(Status(ErrorCode::kLimitExceeded,
                     "the backend is busy: every call slot of " + hookLabel(method) + " is taken"),
              false);
  } else if (submitted == HookEndpoint::Submitted::kStopped) {
    (*shared)(Status(ErrorCode::kUnavailable,
                     hookLabel(method) + " was reconfigured or is stopping: not called"),
              false);
  }
}

// Counts how a call ended and applies the endpoint's failure policy: under `allow`, a call
// the backend failed answers `on_allow` instead (never one that was not made).
template <typename Reply>
Answer<Reply> counted(HookCallCounters& c, bool allow_on_failure, Reply on_allow,
                      HookDone<Reply> done) {
  return [&c, allow_on_failure, on_allow = std::move(on_allow), done = std::move(done)](
             Result<Reply> r, bool made) mutable {
    if (!r.isOk()) {
      c.failed.fetch_add(1, std::memory_order_relaxed);
      if (allow_on_failure && made) {
        done(std::move(on_allow));
        return;
      }
    } else {
      (r->has_error() ? c.refused : c.allowed).fetch_add(1, std::memory_order_relaxed);
    }
    done(std::move(r));
  };
}

bool allowsOnFailure(const std::shared_ptr<HookEndpoint>& endpoint) {
  return endpoint != nullptr &&
         endpoint->config().on_failure() == herald::v1::HOOK_FAILURE_POLICY_ALLOW;
}

}  // namespace

void HookCaller::configure(const herald::v1::HookSettings& settings) {
  std::vector<std::shared_ptr<HookEndpoint>> retired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      return;
    }
    std::map<std::string, std::shared_ptr<HookEndpoint>> next;
    for (const auto& config : settings.endpoints()) {
      auto it = endpoints_.find(config.name());
      if (it != endpoints_.end() &&
          google::protobuf::util::MessageDifferencer::Equals(it->second->config(), config)) {
        next.emplace(config.name(), it->second);
        continue;
      }
      auto target = parseHookUrl(config.url());
      if (!target.isOk()) {
        continue;  // validated before: not reached
      }
      next.emplace(config.name(), std::make_shared<HookEndpoint>(
                                      config, make_factory_(target.value(), config.secret())));
    }
    for (auto& [name, endpoint] : endpoints_) {
      auto it = next.find(name);
      if (it == next.end() || it->second != endpoint) {
        retired.push_back(endpoint);
      }
    }
    endpoints_ = std::move(next);
    settings_ = settings;
    settings_.clear_endpoints();
    cache_.clear();  // a backend's answers may not hold under its new config
  }
  // Outside the lock (their calls answer through callbacks); quick, since stopping cancels
  // the calls in progress.
  for (const auto& endpoint : retired) {
    endpoint->stop();
  }
}

std::shared_ptr<HookEndpoint> HookCaller::endpoint(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = name.empty() ? endpoints_.end() : endpoints_.find(name);
  return it == endpoints_.end() ? nullptr : it->second;
}

void HookCaller::rpc(herald::v1::RpcHookRequest request, HookDone<herald::v1::RpcHookReply> done) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    name = settings_.rpc();
  }
  callEndpoint<herald::v1::RpcHookReply>(
      endpoint(name), HookMethod::kRpc, std::move(request), &checkRpcReply,
      counted<herald::v1::RpcHookReply>(countersFor(HookMethod::kRpc), false, {}, std::move(done)));
}

ConnectHookPlan HookCaller::connectPlan() const {
  std::lock_guard<std::mutex> lock(mu_);
  ConnectHookPlan plan;
  plan.configured = !settings_.connect().empty();
  plan.always = settings_.connect_always();
  for (const auto& header : settings_.connect_headers()) {
    std::string lower = header;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    plan.headers.push_back(std::move(lower));
  }
  return plan;
}

bool HookCaller::hasRefresh() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !settings_.refresh().empty();
}

void HookCaller::connect(herald::v1::ConnectHookRequest request,
                         HookDone<herald::v1::ConnectHookReply> done) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    name = settings_.connect();
  }
  auto target = endpoint(name);
  herald::v1::ConnectHookReply anonymous;  // `allow` on failure: as if the hook said nothing
  anonymous.set_user(request.user());
  callEndpoint<herald::v1::ConnectHookReply>(
      target, HookMethod::kConnect, std::move(request), &checkConnectReply,
      counted(countersFor(HookMethod::kConnect), allowsOnFailure(target), std::move(anonymous),
              std::move(done)));
}

void HookCaller::subscribe(const std::string& name, herald::v1::SubscribeHookRequest request,
                           HookDone<herald::v1::SubscribeHookReply> done) {
  // Only a user's answers are reused: an anonymous connection has nothing stable to key on.
  std::string key;
  if (!request.caller().user().empty()) {
    key = name + '\n' + request.caller().user() + '\n' + request.channel();
    std::unique_lock<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.until_ms > steadyMillis()) {
      herald::v1::SubscribeHookReply reply = it->second.reply;
      lock.unlock();
      countersFor(HookMethod::kSubscribe).cached.fetch_add(1, std::memory_order_relaxed);
      done(std::move(reply));
      return;
    }
  }
  auto target = endpoint(name);
  HookDone<herald::v1::SubscribeHookReply> keep = std::move(done);
  if (!key.empty()) {
    keep = [this, key, done = std::move(keep)](Result<herald::v1::SubscribeHookReply> r) {
      if (r.isOk() && r->ttl_seconds() > 0 && r->info().size() <= kMaxCachedInfoBytes) {
        remember(key, r.value());
      }
      done(std::move(r));
    };
  }
  callEndpoint<herald::v1::SubscribeHookReply>(
      target, HookMethod::kSubscribe, std::move(request), &checkSubscribeReply,
      counted<herald::v1::SubscribeHookReply>(countersFor(HookMethod::kSubscribe),
                                              allowsOnFailure(target), {}, std::move(keep)));
}

void HookCaller::remember(const std::string& key, const herald::v1::SubscribeHookReply& reply) {
  const int64_t now = steadyMillis();
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) {
    return;
  }
  if (cache_.size() >= kMaxCachedAnswers) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      it = it->second.until_ms <= now ? cache_.erase(it) : std::next(it);
    }
    if (cache_.size() >= kMaxCachedAnswers) {
      return;  // full of live answers: this one is simply not kept
    }
  }
  cache_[key] = {reply, now + static_cast<int64_t>(reply.ttl_seconds()) * 1000};
}

void HookCaller::publish(const std::string& name, herald::v1::PublishHookRequest request,
                         HookDone<herald::v1::PublishHookReply> done) {
  auto target = endpoint(name);
  callEndpoint<herald::v1::PublishHookReply>(
      target, HookMethod::kPublish, std::move(request), &checkPublishReply,
      counted<herald::v1::PublishHookReply>(countersFor(HookMethod::kPublish),
                                            allowsOnFailure(target), {}, std::move(done)));
}

void HookCaller::refresh(herald::v1::RefreshHookRequest request,
                         HookDone<herald::v1::RefreshHookReply> done) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    name = settings_.refresh();
  }
  auto target = endpoint(name);
  herald::v1::RefreshHookReply grace;
  grace.set_expire_at(request.expire_at() + kRefreshGraceSeconds);
  callEndpoint<herald::v1::RefreshHookReply>(
      target, HookMethod::kRefresh, std::move(request), &checkRefreshReply,
      counted(countersFor(HookMethod::kRefresh), allowsOnFailure(target), std::move(grace),
              std::move(done)));
}

void HookCaller::stop() {
  std::map<std::string, std::shared_ptr<HookEndpoint>> endpoints;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    endpoints.swap(endpoints_);
    cache_.clear();
  }
  for (auto& [name, endpoint] : endpoints) {
    endpoint->stop();
  }
}

}  // namespace herald::node
