#include "controlplane/user_connections.h"

namespace herald::control {

void UserConnections::setCountLocked(const void* node, const std::string& user, uint32_t count) {
  Entry& e = users_[user];
  auto it = e.per_node.find(node);
  const uint32_t before = it == e.per_node.end() ? 0 : it->second;
  e.total = e.total - before + count;
  if (remote_.count(node) != 0) {
    e.remote = e.remote - before + count;
  }
  uint64_t& node_total = node_totals_[node];
  node_total = node_total - before + count;
  if (node_total == 0) {
    node_totals_.erase(node);
  }
  if (count == 0) {
    if (it != e.per_node.end()) {
      e.per_node.erase(it);
    }
    by_node_[node].erase(user);
  } else {
    e.per_node[node] = count;
    by_node_[node].insert(user);
  }
}

void UserConnections::evaluateLocked(const std::string& user, uint32_t limit, Changes* changes) {
  auto it = users_.find(user);
  const uint64_t total = it == users_.end() ? 0 : it->second.total;
  const bool blocked = limit > 0 && total >= limit;
  const bool was = blocked_.count(user) != 0;
  if (blocked != was) {
    if (blocked) {
      blocked_.insert(user);
    } else {
      blocked_.erase(user);
    }
    changes->emplace_back(user, blocked);
  }
  if (it != users_.end() && it->second.total == 0) {
    users_.erase(it);
  }
}

namespace {

bool validUserId(const std::string& user) {
  if (user.empty() || user.size() > 256) {
    return false;
  }
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::set<std::string> UserConnections::applyLocked(
    const void* node, const std::vector<std::pair<std::string, uint32_t>>& counts, bool full,
    uint64_t max_node_connections, bool* clamped) {
  std::set<std::string> touched;
  if (full) {
    for (const auto& user : by_node_[node]) {
      touched.insert(user);
    }
    for (const auto& user : touched) {
      setCountLocked(node, user, 0);
    }
  }
  for (const auto& [user, connections] : counts) {
    if (!validUserId(user)) {
      *clamped = true;
      continue;
    }
    const auto& per_node = users_[user].per_node;
    const auto current = per_node.find(node);
    const uint64_t others = node_totals_[node] - (current == per_node.end() ? 0 : current->second);
    const uint64_t room = others >= max_node_connections ? 0 : max_node_connections - others;
    uint32_t count = connections;
    if (count > room) {
      count = static_cast<uint32_t>(room);
      *clamped = true;
    }
    setCountLocked(node, user, count);
    touched.insert(user);
  }
  return touched;
}

void UserConnections::tellLocalLocked(const std::set<std::string>& users) const {
  if (!local_listener_) {
    return;
  }
  for (const auto& user : users) {
    auto it = users_.find(user);
    local_listener_(user, it == users_.end() ? 0 : it->second.total - it->second.remote);
  }
}

UserConnections::Changes UserConnections::report(
    const void* node, const google::protobuf::RepeatedPtrField<herald::v1::UserCount>& counts,
    bool full, uint32_t limit, uint64_t max_node_connections, bool* refused) {
  std::vector<std::pair<std::string, uint32_t>> pairs;
  pairs.reserve(counts.size());
  for (const auto& c : counts) {
    pairs.emplace_back(c.user(), c.connections());
  }
  std::lock_guard<std::mutex> lock(mu_);
  bool clamped = false;
  const auto touched = applyLocked(node, pairs, full, max_node_connections, &clamped);
  if (refused != nullptr) {
    *refused = clamped;
  }
  tellLocalLocked(touched);
  Changes changes;
  for (const auto& user : touched) {
    evaluateLocked(user, limit, &changes);
  }
  return changes;
}

UserConnections::Changes UserConnections::reportReplica(
    const std::string& replica, const std::vector<std::pair<std::string, uint32_t>>& counts,
    bool full, uint32_t limit) {
  // A replica holds at most what its nodes may: bounded by the caller's parse.
  constexpr uint64_t kReplicaMax = uint64_t{1} << 40;
  std::lock_guard<std::mutex> lock(mu_);
  auto& key = replicas_[replica];
  if (!key) {
    key = std::make_unique<char>();
    remote_.insert(key.get());
  }
  bool clamped = false;
  const auto touched = applyLocked(key.get(), counts, full, kReplicaMax, &clamped);
  Changes changes;
  for (const auto& user : touched) {
    evaluateLocked(user, limit, &changes);
  }
  return changes;
}

UserConnections::Changes UserConnections::forgetReplica(const std::string& replica,
                                                        uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = replicas_.find(replica);
  if (it == replicas_.end()) {
    return {};
  }
  Changes changes = removeLocked(it->second.get(), limit);
  remote_.erase(it->second.get());
  replicas_.erase(it);
  return changes;
}

std::vector<std::pair<std::string, uint64_t>> UserConnections::localUsers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [user, entry] : users_) {
    if (entry.total > entry.remote) {
      out.emplace_back(user, entry.total - entry.remote);
    }
  }
  return out;
}

UserConnections::Changes UserConnections::removeNode(const void* node, uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  return removeLocked(node, limit);
}

UserConnections::Changes UserConnections::removeLocked(const void* node, uint32_t limit) {
  Changes changes;
  auto it = by_node_.find(node);
  if (it == by_node_.end()) {
    return changes;
  }
  const std::set<std::string> users = it->second;
  for (const auto& user : users) {
    setCountLocked(node, user, 0);
  }
  by_node_.erase(node);
  node_totals_.erase(node);
  if (remote_.count(node) == 0) {
    tellLocalLocked(users);
  }
  for (const auto& user : users) {
    evaluateLocked(user, limit, &changes);
  }
  return changes;
}

UserConnections::Changes UserConnections::setLimit(uint32_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  Changes changes;
  std::set<std::string> users(blocked_.begin(), blocked_.end());
  for (const auto& [user, entry] : users_) {
    users.insert(user);
  }
  for (const auto& user : users) {
    evaluateLocked(user, limit, &changes);
  }
  return changes;
}

std::vector<std::string> UserConnections::blocked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {blocked_.begin(), blocked_.end()};
}

uint64_t UserConnections::total(const std::string& user) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = users_.find(user);
  return it == users_.end() ? 0 : it->second.total;
}

}  // namespace herald::control
