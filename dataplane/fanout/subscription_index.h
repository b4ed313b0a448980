#pragma once

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

namespace herald::node {

/**
 * channel → subscribers of one shard. Owned by one thread; no locks. add() and remove()
 * report when a channel gains its first or loses its last subscriber, which is what the
 * node reports to the control plane as interest.
 */
template <typename Subscriber>
class SubscriptionIndex {
 public:
  // Returns true when `channel` had no subscriber before.
  bool add(const std::string& channel, Subscriber* sub) {
    auto& list = index_[channel];
    list.push_back(sub);
    ++subscriptions_;
    return list.size() == 1;
  }

  // Returns true when `channel` has no subscriber left. Removing an absent pair is a no-op.
  bool remove(const std::string& channel, Subscriber* sub) {
    auto it = index_.find(channel);
    if (it == index_.end()) {
      return false;
    }
    auto& list = it->second;
    auto pos = std::find(list.begin(), list.end(), sub);
    if (pos == list.end()) {
      return false;
    }
    // Order among subscribers does not matter: swap-and-pop keeps removal O(1) after find.
    *pos = list.back();
    list.pop_back();
    --subscriptions_;
    if (list.empty()) {
      index_.erase(it);
      return true;
    }
    return false;
  }

  // nullptr when nobody subscribes; valid until the next add/remove.
  const std::vector<Subscriber*>* find(const std::string& channel) const {
    auto it = index_.find(channel);
    return it == index_.end() ? nullptr : &it->second;
  }

  size_t channels() const { return index_.size(); }
  size_t subscriptions() const { return subscriptions_; }

 private:
  std::unordered_map<std::string, std::vector<Subscriber*>> index_;
  size_t subscriptions_ = 0;
};

}  // namespace herald::node
