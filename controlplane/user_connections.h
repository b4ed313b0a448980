#pragma once

#include <cstdint>
#include <map>
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
  void evaluateLocked(const std::string& user, uint32_t limit, Changes* changes);

  mutable std::mutex mu_;
  struct Entry {
    std::map<const void*, uint32_t> per_node;
    uint64_t total = 0;
  };
  std::unordered_map<std::string, Entry> users_;
  std::unordered_map<const void*, std::set<std::string>> by_node_;
  std::unordered_map<const void*, uint64_t> node_totals_;  // sum of a node's counts
  std::set<std::string> blocked_;
};

}  // namespace herald::control
