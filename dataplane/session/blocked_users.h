#pragma once

#include <mutex>
#include <string>
#include <unordered_set>

namespace herald::node {

// Users the control plane says are at max_connections_per_user across the cluster. Written by
// the NodeLink thread, read by shards when a connection authenticates (never per message).
class BlockedUsers {
 public:
  void set(const std::string& user, bool blocked) {
    std::lock_guard<std::mutex> lock(mu_);
    if (blocked) {
      users_.insert(user);
    } else {
      users_.erase(user);
    }
  }
  bool contains(const std::string& user) const {
    std::lock_guard<std::mutex> lock(mu_);
    return users_.count(user) != 0;
  }
  // A new control-plane session resends every block; stale ones must not linger.
  void clear() {
    std::lock_guard<std::mutex> lock(mu_);
    users_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_set<std::string> users_;
};

}  // namespace herald::node
