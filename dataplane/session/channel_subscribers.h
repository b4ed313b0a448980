#pragma once

#include <algorithm>
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

  // The `n` channels with most subscribers, most first (ties by name), for ClusterStats. One
  // scan under the lock keeping a heap of `n`: called once per heartbeat, never per message.
  std::vector<std::pair<std::string, uint32_t>> top(size_t n) const {
    using Entry = std::unordered_map<std::string, uint32_t>::value_type;
    const auto before = [](const Entry* a, const Entry* b) {
      return a->second != b->second ? a->second > b->second : a->first < b->first;
    };
    std::vector<const Entry*> heap;  // the best `n` so far; the worst of them on top
    std::vector<std::pair<std::string, uint32_t>> out;
    if (n == 0) {
      return out;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : counts_) {
      const Entry* e = &entry;
      if (heap.size() < n) {
        heap.push_back(e);
        std::push_heap(heap.begin(), heap.end(), before);
      } else if (before(e, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), before);
        heap.back() = e;
        std::push_heap(heap.begin(), heap.end(), before);
      }
    }
    std::sort(heap.begin(), heap.end(), before);
    out.reserve(heap.size());
    for (const Entry* e : heap) {
      out.emplace_back(e->first, e->second);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> counts_;
};

}  // namespace herald::node
