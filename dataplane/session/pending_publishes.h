#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace herald::node {

/**
 * Client publications a shard sent to the control plane and has not heard back about:
 * request id → the connection to answer and the `id` of its frame. Owned by one shard
 * thread. An answer that never comes (the link broke) is taken out by takeOverdue().
 */
template <typename Connection>
class PendingPublishes {
 public:
  struct Entry {
    Connection* con = nullptr;
    std::optional<uint64_t> frame_id;
    int64_t deadline_ms = 0;
    int64_t started_us = 0;  // steady clock when sent, for latency (rpc calls)
  };

  void add(uint64_t request_id, Entry entry) { entries_[request_id] = entry; }

  // The entry answered by `request_id`; nullopt when it expired or its connection closed.
  std::optional<Entry> take(uint64_t request_id) {
    auto it = entries_.find(request_id);
    if (it == entries_.end()) {
      return std::nullopt;
    }
    Entry entry = it->second;
    entries_.erase(it);
    return entry;
  }

  // Removes and returns the entries whose deadline has passed.
  std::vector<Entry> takeOverdue(int64_t now_ms) {
    std::vector<Entry> overdue;
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.deadline_ms <= now_ms) {
        overdue.push_back(it->second);
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    return overdue;
  }

  // Drops every entry of a connection that closed (its answers have nowhere to go).
  void forget(const Connection* con) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = it->second.con == con ? entries_.erase(it) : std::next(it);
    }
  }

  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace herald::node
