#pragma once
// Deliveries (a publication handed to a connection) per namespace label and per channel, for
// ClusterStats' windows. A shard counts into its own DeliveryTally as it fans out (no lock) and
// hands it over once a second to the node's DeliveryTallies, which the heartbeat empties.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "herald/v1/node_link.pb.h"

namespace herald::node {

class DeliveryTally {
 public:
  // Channels counted apart per tally; past it a delivery counts for its namespace only (the
  // heartbeat reports the busiest 32 anyway). Namespace labels are bounded by the config.
  static constexpr size_t kMaxChannels = 4096;

  // `n` deliveries under namespace label `ns`, on `channel` (null: personal or to everyone).
  void add(std::string_view ns, const std::string* channel, uint64_t n) {
    auto it = namespaces_.find(ns);
    if (it == namespaces_.end()) {
      it = namespaces_.emplace(std::string(ns), 0).first;
    }
    it->second += n;
    if (channel != nullptr) {
      countChannel(*channel, n);
    }
  }
  // Adds `other`'s counts to this one's (same bounds).
  void merge(const DeliveryTally& other);
  bool empty() const { return namespaces_.empty(); }
  void clear() {
    namespaces_.clear();
    channels_.clear();
  }
  // Every namespace and the `top` channels with most deliveries into `stats`.
  void report(size_t top, herald::v1::NodeStats* stats) const;

 private:
  // Past kMaxChannels a new channel is not counted apart (its namespace still is).
  void countChannel(const std::string& channel, uint64_t n) {
    if (auto it = channels_.find(channel); it != channels_.end()) {
      it->second += n;
    } else if (channels_.size() < kMaxChannels) {
      channels_.emplace(channel, n);
    }
  }

  std::map<std::string, uint64_t, std::less<>> namespaces_;
  std::unordered_map<std::string, uint64_t> channels_;
};

// The node-wide collector: shards hand their tallies in, the heartbeat takes the sum out.
class DeliveryTallies {
 public:
  static constexpr size_t kReportedChannels = 32;

  void hand(const DeliveryTally& tally) {
    std::lock_guard<std::mutex> lock(mu_);
    sum_.merge(tally);
  }
  // Deliveries since the previous call into `stats`; then starts again from zero.
  void take(herald::v1::NodeStats* stats) {
    std::lock_guard<std::mutex> lock(mu_);
    sum_.report(kReportedChannels, stats);
    sum_.clear();
  }

 private:
  std::mutex mu_;
  DeliveryTally sum_;
};

}  // namespace herald::node
