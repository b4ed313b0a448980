#include "controlplane/node_registry.h"

#include "common/logging.h"

namespace herald::control {

std::shared_ptr<NodeSession> NodeRegistry::attach(const std::shared_ptr<NodeSession>& session) {
  std::shared_ptr<NodeSession> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    session->setGeneration(++generation_);
    auto& slot = live_[session->nodeId()];
    previous = slot;
    slot = session;
    departed_.erase(session->nodeId());
  }
  if (previous) {
    router_.removeNode(previous.get());
    previous->cancel("replaced by a new session with the same node id");
  }
  return previous;
}

void NodeRegistry::detach(const std::shared_ptr<NodeSession>& session,
                          const std::function<void()>& on_departed) {
  router_.removeNode(session.get());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(session->nodeId());
  if (it == live_.end() || it->second != session) {
    return;
  }
  live_.erase(it);
  session->markUnhealthy();
  departed_[session->nodeId()] = Departed{session->info(), std::chrono::steady_clock::now()};
  if (on_departed) {
    on_departed();
  }
}

bool NodeRegistry::isLive(const NodeSession* session) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(session->nodeId());
  return it != live_.end() && it->second.get() == session;
}

size_t NodeRegistry::sweep(std::chrono::milliseconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<NodeSession>> silent;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, session] : live_) {
      if (session->healthy() && now - session->lastHeartbeat() > timeout) {
        silent.push_back(session);
      }
    }
    for (auto it = departed_.begin(); it != departed_.end();) {
      it = now - it->second.at > kForgetAfter ? departed_.erase(it) : std::next(it);
    }
  }
  for (const auto& session : silent) {
    session->markUnhealthy();
    router_.removeNode(session.get());
    session->cancel("no heartbeat for " + std::to_string(timeout.count()) + " ms");
  }
  return silent.size();
}

std::vector<std::shared_ptr<NodeSession>> NodeRegistry::live() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<NodeSession>> out;
  out.reserve(live_.size());
  for (const auto& [id, session] : live_) {
    out.push_back(session);
  }
  return out;
}

std::vector<herald::v1::NodeInfo> NodeRegistry::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, herald::v1::NodeInfo> all;
  for (const auto& [id, d] : departed_) {
    all[id] = d.info;
  }
  for (const auto& [id, session] : live_) {
    all[id] = session->info();
  }
  std::vector<herald::v1::NodeInfo> out;
  out.reserve(all.size());
  for (auto& [id, info] : all) {
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace herald::control
