#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/tag_filter.h"
#include "dataplane/fanout/delivery.h"
#include "dataplane/fanout/smoothing_queue.h"

namespace herald::node {

/**
 * channel → subscribers of one shard. Owned by one thread; no locks. add() and remove()
 * report when a channel gains its first or loses its last subscriber, which is what the
 * node reports to the control plane as interest.
 *
 * Subscriptions with a filter, a conflation or a smoothing interval (docs/protocol.md "Tags
 * and filters", "Conflation", "Smoothing") are grouped by (filter's canonical text, pace, see
 * common/conflation.h): a group holds one compiled filter, evaluated once per publication for
 * all its members, one conflation or smoothing state, and the last offset it sent (the
 * `prev` of its next frame). `Filter` needs `sameAs(other)`.
 */
template <typename Subscriber, typename Filter = herald::TagFilter>
class SubscriptionIndex {
 public:
  using FilterPtr = std::shared_ptr<const Filter>;

  struct Group {
    FilterPtr filter;          // null: every publication
    uint32_t conflate_ms = 0;  // the pace (common/conflation.h): 0, conflation or smoothing
    std::vector<Subscriber*> members;
    uint64_t prev = 0;       // last offset sent to the group (0: none yet)
    std::string prev_epoch;  // ...in this epoch
    // The shard saw a jump in the channel's offsets up to here (lost on the way to the node):
    // the next frame's `prev` says so, as unfiltered subscribers see it in the offsets.
    uint64_t lost_upto = 0;
    uint64_t id = 0;  // unique per shard: a timer entry of a group since removed finds no match
    // Conflation: the latest publication held back, how many it replaces, and when the group
    // may be sent to next (steady milliseconds).
    DeliveryPtr pending;
    uint32_t pending_replaced = 0;
    int64_t next_send_ms = 0;
    // Smoothing: the publications waiting to be spread (sent by timer entries due at
    // next_send_ms).
    SmoothingQueue smoothing;

    bool is(const Filter* f, uint32_t conflate) const {
      return conflate_ms == conflate &&
             (filter == nullptr ? f == nullptr : f != nullptr && filter->sameAs(*f));
    }
  };

  struct Entry {
    std::vector<Subscriber*> plain;  // without a filter or conflation
    std::vector<Group> groups;
    size_t count = 0;  // plain and grouped
    // The channel's last delivery on this shard, to notice offsets lost before the node.
    uint64_t last_offset = 0;
    std::string last_epoch;

    size_t size() const { return count; }
    template <typename Fn>
    void forEach(Fn&& fn) const {
      forEachUntil([&](Subscriber* sub) {
        fn(sub);
        return true;
      });
    }
    // Stops when `fn` returns false.
    template <typename Fn>
    void forEachUntil(Fn&& fn) const {
      for (Subscriber* sub : plain) {
        if (!fn(sub)) {
          return;
        }
      }
      for (const auto& group : groups) {
        for (Subscriber* sub : group.members) {
          if (!fn(sub)) {
            return;
          }
        }
      }
    }
    // A channel delivery at `offset` in `epoch`: when it skips offsets after the last one
    // (same epoch), those were lost before this shard, and every group learns it.
    void noteDelivery(uint64_t offset, const std::string& epoch) {
      if (offset == 0) {
        return;
      }
      if (epoch != last_epoch) {
        last_epoch = epoch;
        last_offset = offset;  // offsets start over in a new epoch
        for (auto& g : groups) {
          g.lost_upto = 0;
        }
        return;
      } else if (last_offset != 0 && offset > last_offset + 1) {
        for (auto& g : groups) {
          g.lost_upto = std::max(g.lost_upto, offset - 1);
        }
      }
      last_offset = std::max(last_offset, offset);
    }
    Group* group(const Filter* filter, uint32_t conflate_ms) {
      for (auto& g : groups) {
        if (g.is(filter, conflate_ms)) {
          return &g;
        }
      }
      return nullptr;
    }
  };

  // Distinct (filter, interval) groups a channel may have per shard: each costs one
  // evaluation and one frame per publication, so their number bounds what one publication
  // can cost however many different filters clients send.
  static constexpr size_t kMaxGroupsPerChannel = 64;

  // Whether a subscription with this shape may be added: it has no filter and the
  // namespace's interval (`usual_conflate_ms`), which is always admitted; or it joins a group
  // that exists; or there is room for a new one.
  bool canAdd(const std::string& channel, const Filter* filter, uint32_t conflate_ms,
              uint32_t usual_conflate_ms) const {
    if (filter == nullptr && conflate_ms == usual_conflate_ms) {
      return true;
    }
    auto it = index_.find(channel);
    if (it == index_.end() || it->second.groups.size() < kMaxGroupsPerChannel) {
      return true;
    }
    for (const auto& g : it->second.groups) {
      if (g.is(filter, conflate_ms)) {
        return true;
      }
    }
    return false;
  }

  // Returns true when `channel` had no subscriber before. A filter equal to one a group has
  // (with the same interval) joins that group (its compiled filter is the one kept).
  bool add(const std::string& channel, Subscriber* sub, const FilterPtr& filter = nullptr,
           uint32_t conflate_ms = 0) {
    Entry& entry = index_[channel];
    if (filter == nullptr && conflate_ms == 0) {
      entry.plain.push_back(sub);
    } else {
      Group* group = entry.group(filter.get(), conflate_ms);
      if (group == nullptr) {
        entry.groups.emplace_back();
        group = &entry.groups.back();
        group->filter = filter;
        group->conflate_ms = conflate_ms;
        group->id = ++next_group_id_;
      }
      group->members.push_back(sub);
    }
    ++subscriptions_;
    return ++entry.count == 1;
  }

  // Returns true when `channel` has no subscriber left. Removing an absent pair is a no-op.
  // `filter` and `conflate_ms` are those the subscription was added with.
  bool remove(const std::string& channel, Subscriber* sub, const Filter* filter = nullptr,
              uint32_t conflate_ms = 0) {
    auto it = index_.find(channel);
    if (it == index_.end()) {
      return false;
    }
    Entry& entry = it->second;
    if (filter == nullptr && conflate_ms == 0) {
      if (!erase(&entry.plain, sub)) {
        return false;
      }
    } else {
      Group* group = entry.group(filter, conflate_ms);
      if (group == nullptr || !erase(&group->members, sub)) {
        return false;
      }
      if (group->members.empty()) {
        if (group != &entry.groups.back()) {
          *group = std::move(entry.groups.back());
        }
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
  uint64_t next_group_id_ = 0;
};

}  // namespace herald::node
