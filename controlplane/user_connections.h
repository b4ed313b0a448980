#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "herald/v1/node_link.pb.h"

namespace herald::control {

/**
 * Connections per authenticated user across every node, from the counts nodes report, and
 * which users are at max_connections_per_user. Each call returns the users whose state
 * changed, for the caller to tell every node (nodes then refuse new connections of a blocked
 * user). Eventually consistent: two nodes admitting the same user at the same instant can
 * overshoot the limit by the number of nodes.
 */
class UserConnections {
 public:
  using Changes = std::vector<std::pair<std::string, bool>>;  // user, blocked

  // A node's counts: a full set (Hello: replaces what it reported before) or changes. A node
  // is not trusted beyond what it can hold: its counts together never exceed
  // `max_node_connections` (the cluster's max_connections_per_node), and entries with an
  // invalid user id (empty, over 256 bytes, control characters) are ignored. `*refused` (if
  // given) tells whether anything was clamped or ignored.
  Changes report(const void* node,
                 const google::protobuf::RepeatedPtrField<herald::v1::UserCount>& counts, bool full,
                 uint32_t limit, uint64_t max_node_connections, bool* refused = nullptr);
  Changes removeNode(const void* node, uint32_t limit);
  // --engine redis: another replica's users (ReplicaUserCounts), counted like a node's, so
  // the limit holds across the cluster; `full` replaces what it reported before.
  Changes reportReplica(const std::string& replica,
                        const std::vector<std::pair<std::string, uint32_t>>& counts, bool full,
                        uint32_t limit);
  Changes forgetReplica(const std::string& replica, uint32_t limit);
  // Told (user, connections on this replica's own nodes) at every change of that number, for
  // the other replicas. Called under the lock: keep it quick.
  void setLocalListener(std::function<void(const std::string&, uint64_t)> listener) {
    std::lock_guard<std::mutex> lock(mu_);
    local_listener_ = std::move(listener);
  }
  // Users with connections on this replica's own nodes, with their number (a full report).
  std::vector<std::pair<std::string, uint64_t>> localUsers() const;
  // The limit itself changed.
  Changes setLimit(uint32_t limit);
  std::vector<std::string> blocked() const;
  uint64_t total(const std::string& user) const;
  // Calls `visit` with every user that has a connection now (under the lock: keep it short).
  template <typename Visit>
  void forEachConnectedUser(Visit&& visit) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [user, entry] : users_) {
      if (entry.total > 0) {
        visit(user);
      }
    }
  }

 private:
  void setCountLocked(const void* node, const std::string& user, uint32_t count);
  // Sets a source's counts (`full`: replaces its others); returns the users touched.
  std::set<std::string> applyLocked(const void* node,
                                    const std::vector<std::pair<std::string, uint32_t>>& counts,
                                    bool full, uint64_t max_node_connections, bool* clamped);
  void tellLocalLocked(const std::set<std::string>& users) const;
  Changes removeLocked(const void* node, uint32_t limit);
  void evaluateLocked(const std::string& user, uint32_t limit, Changes* changes);

  mutable std::mutex mu_;
  struct Entry {
    std::map<const void*, uint32_t> per_node;
    uint64_t total = 0;
    uint64_t remote = 0;  // of which other replicas' (reportReplica)
  };
  std::function<void(const std::string&, uint64_t)> local_listener_;
  // Other replicas as sources: a stable key each.
  std::map<std::string, std::unique_ptr<char>> replicas_;
  std::set<const void*> remote_;
  std::unordered_map<std::string, Entry> users_;
  std::unordered_map<const void*, std::set<std::string>> by_node_;
  std::unordered_map<const void*, uint64_t> node_totals_;  // sum of a node's counts
  std::set<std::string> blocked_;
};

}  // namespace herald::control
