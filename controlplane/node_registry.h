#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/node_session.h"
#include "controlplane/router.h"

namespace herald::control {

/**
 * The nodes this control plane knows: live sessions by node id, and nodes that left
 * (disconnected or timed out), listed as unhealthy for `kForgetAfter` so operators see them.
 */
class NodeRegistry {
 public:
  static constexpr std::chrono::minutes kForgetAfter{10};

  explicit NodeRegistry(Router& router) : router_(router) {}

  // Adds a session (giving it the next generation); an older session with the same node id is
  // cancelled and replaced.
  // Returns the replaced session, if any (already cancelled and out of routing).
  std::shared_ptr<NodeSession> attach(const std::shared_ptr<NodeSession>& session);
  // Removes a session whose stream ended (no-op if it was replaced meanwhile). When it was the
  // node's live session, `on_departed` runs, under the registry's lock, so that no Hello of
  // the node comes between (LostNodeLeaves).
  void detach(const std::shared_ptr<NodeSession>& session,
              const std::function<void()>& on_departed = nullptr);

  // Marks nodes silent for longer than `timeout` unhealthy, drops them from routing and
  // cancels their streams (they reconnect and resync). Returns how many were marked.
  size_t sweep(std::chrono::milliseconds timeout);

  std::vector<std::shared_ptr<NodeSession>> live() const;
  // Whether `session` is its node's live one (not replaced, not detached).
  bool isLive(const NodeSession* session) const;
  std::vector<herald::v1::NodeInfo> list() const;  // live and recently departed, by id

 private:
  Router& router_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<NodeSession>> live_;
  uint64_t generation_ = 0;  // the last one given (attach)
  struct Departed {
    herald::v1::NodeInfo info;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Departed> departed_;
};

}  // namespace herald::control
