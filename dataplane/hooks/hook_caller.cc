#include "dataplane/hooks/hook_caller.h"

#include <google/protobuf/util/message_differencer.h>

#include <vector>

namespace herald::node {

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
    rpc_ = settings.rpc();
  }
  // Outside the lock (their calls answer through callbacks); quick, since stopping cancels
  // the calls in progress.
  for (const auto& endpoint : retired) {
    endpoint->stop();
  }
}

void HookCaller::rpc(herald::v1::RpcHookRequest request, RpcDone done) {
  std::shared_ptr<HookEndpoint> endpoint;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rpc_.empty() ? endpoints_.end() : endpoints_.find(rpc_);
    if (it != endpoints_.end()) {
      endpoint = it->second;
    }
  }
  if (endpoint == nullptr) {
    done(Status(ErrorCode::kNotFound, "this server has no rpc hook"));
    return;
  }
  auto shared = std::make_shared<RpcDone>(std::move(done));
  const auto submitted = endpoint->submit(
      [request = std::move(request), shared](
          HookTransport* transport, std::chrono::milliseconds left, HookEndpoint::NotMade why) {
        if (transport != nullptr) {
          (*shared)(transport->rpc(request, left));
        } else if (why == HookEndpoint::NotMade::kStopped) {
          (*shared)(Status(ErrorCode::kUnavailable,
                           "the rpc hook was reconfigured or is stopping: not called"));
        } else {
          (*shared)(Status(ErrorCode::kUnavailable,
                           "no free call slot for the rpc hook within its timeout: not called"));
        }
      });
  if (submitted == HookEndpoint::Submitted::kBusy) {
    (*shared)(Status(ErrorCode::kLimitExceeded,
                     "the backend is busy: every call slot of the rpc hook is taken"));
  } else if (submitted == HookEndpoint::Submitted::kStopped) {
    (*shared)(Status(ErrorCode::kUnavailable,
                     "the rpc hook was reconfigured or is stopping: not called"));
  }
}

void HookCaller::stop() {
  std::map<std::string, std::shared_ptr<HookEndpoint>> endpoints;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    endpoints.swap(endpoints_);
  }
  for (auto& [name, endpoint] : endpoints) {
    endpoint->stop();
  }
}

}  // namespace herald::node
