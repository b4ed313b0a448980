#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/top_entries.h"

namespace herald::node {

/**
 * Subscribers per channel across the node's shards, for the namespaces' max_subscribers
 * (per channel per node). Shards own their subscriptions; this count is the one piece they
 * share, touched on subscribe and unsubscribe only (never per message), under one lock.
 */
class ChannelSubscribers {
 public:
  // Adds one subscriber to each of `channels` unless one of them is already at its limit
  // (`limits[i]`, 0 = none); then adds none and returns the index of the first that is.
  std::optional<size_t> tryAdd(const std::vector<std::string>& channels,
                               const std::vector<uint32_t>& limits) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < channels.size(); ++i) {
      if (limits[i] == 0) {
        continue;
      }
      auto it = counts_.find(channels[i]);
      if (it != counts_.end() && it->second >= limits[i]) {
        return i;
      }
    }
    for (const auto& channel : channels) {
      ++counts_[channel];
    }
    return std::nullopt;
  }

  void remove(const std::string& channel) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(channel);
    if (it != counts_.end() && --it->second == 0) {
      counts_.erase(it);
    }
  }

  uint32_t count(const std::string& channel) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(channel);
    return it == counts_.end() ? 0 : it->second;
  }

  // The `n` channels with most subscribers, most first (ties by name), for ClusterStats. One
  // scan under the lock keeping a heap of `n`: called once per heartbeat, never per message.
  std::vector<std::pair<std::string, uint32_t>> top(size_t n) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, uint32_t>> out;
    for (const auto* entry : topEntries(counts_, n)) {
      out.emplace_back(entry->first, entry->second);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> counts_;
};

}  // namespace herald::node
