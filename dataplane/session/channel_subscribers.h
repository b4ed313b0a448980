#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> counts_;
};

}  // namespace herald::node
