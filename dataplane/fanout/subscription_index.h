#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/tag_filter.h"

namespace herald::node {

/**
 * channel → subscribers of one shard. Owned by one thread; no locks. add() and remove()
 * report when a channel gains its first or loses its last subscriber, which is what the
 * node reports to the control plane as interest.
 *
 * Subscriptions with a filter (docs/protocol.md "Tags and filters") are grouped by the
 * filter's canonical text: a group holds one compiled filter, evaluated once per publication
 * for all its members, and the last offset it matched (the `prev` of its next frame).
 * `Filter` needs `sameAs(other)` (equal canonical texts).
 */
template <typename Subscriber, typename Filter = herald::TagFilter>
class SubscriptionIndex {
 public:
  using FilterPtr = std::shared_ptr<const Filter>;

  struct FilterGroup {
    FilterPtr filter;
    std::vector<Subscriber*> members;
    uint64_t prev = 0;       // last offset the filter matched here (0: none yet)
    std::string prev_epoch;  // ...in this epoch
  };

  struct Entry {
    std::vector<Subscriber*> plain;  // without a filter
    std::vector<FilterGroup> groups;
    size_t count = 0;  // plain and grouped

    size_t size() const { return count; }
    template <typename Fn>
    void forEach(Fn&& fn) const {
      for (Subscriber* sub : plain) {
        fn(sub);
      }
      for (const auto& group : groups) {
        for (Subscriber* sub : group.members) {
          fn(sub);
        }
      }
    }
  };

  // Returns true when `channel` had no subscriber before. A filter equal to one a group has
  // joins that group (its compiled filter is the one kept).
  bool add(const std::string& channel, Subscriber* sub, const FilterPtr& filter = nullptr) {
    Entry& entry = index_[channel];
    if (filter == nullptr) {
      entry.plain.push_back(sub);
    } else {
      auto group = std::find_if(entry.groups.begin(), entry.groups.end(),
                                [&](const auto& g) { return g.filter->sameAs(*filter); });
      if (group == entry.groups.end()) {
        entry.groups.push_back(FilterGroup{filter, {}, 0, {}});
        group = entry.groups.end() - 1;
      }
      group->members.push_back(sub);
    }
    ++subscriptions_;
    return ++entry.count == 1;
  }

  // Returns true when `channel` has no subscriber left. Removing an absent pair is a no-op.
  // `filter` is the one the subscription was added with.
  bool remove(const std::string& channel, Subscriber* sub, const Filter* filter = nullptr) {
    auto it = index_.find(channel);
    if (it == index_.end()) {
      return false;
    }
    Entry& entry = it->second;
    if (filter == nullptr) {
      if (!erase(&entry.plain, sub)) {
        return false;
      }
    } else {
      auto group = std::find_if(entry.groups.begin(), entry.groups.end(),
                                [&](const auto& g) { return g.filter->sameAs(*filter); });
      if (group == entry.groups.end() || !erase(&group->members, sub)) {
        return false;
      }
      if (group->members.empty()) {
        *group = std::move(entry.groups.back());
        entry.groups.pop_back();
      }
    }
    --subscriptions_;
    if (--entry.count == 0) {
      index_.erase(it);
      return true;
    }
    return false;
  }

  // nullptr when nobody subscribes; valid until the next add/remove.
  Entry* find(const std::string& channel) {
    auto it = index_.find(channel);
    return it == index_.end() ? nullptr : &it->second;
  }
  const Entry* find(const std::string& channel) const {
    auto it = index_.find(channel);
    return it == index_.end() ? nullptr : &it->second;
  }

  size_t channels() const { return index_.size(); }
  size_t subscriptions() const { return subscriptions_; }

 private:
  // Order among subscribers does not matter: swap-and-pop keeps removal O(1) after find.
  static bool erase(std::vector<Subscriber*>* list, Subscriber* sub) {
    auto pos = std::find(list->begin(), list->end(), sub);
    if (pos == list->end()) {
      return false;
    }
    *pos = list->back();
    list->pop_back();
    return true;
  }

  std::unordered_map<std::string, Entry> index_;
  size_t subscriptions_ = 0;
};

}  // namespace herald::node
