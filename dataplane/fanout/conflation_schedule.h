#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/tag_filter.h"

namespace herald::node {

// A conflated group with a publication held back, due to be sent at `due_ms` (steady clock).
// Names its group by channel, filter and interval: the group may be gone by then.
struct ConflationDue {
  int64_t due_ms = 0;
  std::string channel;
  TagFilterPtr filter;  // kept alive, so the group can be compared with it
  uint32_t conflate_ms = 0;
  uint64_t group_id = 0;  // the group as it was when scheduled (SubscriptionIndex Group::id)
};

/**
 * When a shard's conflated and smoothed groups are due (docs/protocol.md "Conflation",
 * "Smoothing"): one timer per shard, armed for the earliest, however many groups and
 * connections there are. A conflated group is in here at most once while it holds a
 * publication back; a smoothed one about log2(burst) times per burst (a tick moved forward
 * leaves its old entry, which finds next_send_ms changed and is skipped). Shard thread only.
 */
class ConflationSchedule {
 public:
  // Arms the shard's timer for `due_ms` (set by the shard's loop; tests flush by hand).
  std::function<void(int64_t due_ms)> arm;

  void schedule(ConflationDue due) {
    const int64_t at = due.due_ms;
    heap_.push_back(std::move(due));
    std::push_heap(heap_.begin(), heap_.end(), later);
    if (arm && (!armed_ms_ || at < *armed_ms_)) {
      armed_ms_ = at;
      arm(at);
    }
  }

  // The next entry due at or before `now_ms`, if any.
  std::optional<ConflationDue> popDue(int64_t now_ms) {
    if (heap_.empty() || heap_.front().due_ms > now_ms) {
      return std::nullopt;
    }
    std::pop_heap(heap_.begin(), heap_.end(), later);
    ConflationDue due = std::move(heap_.back());
    heap_.pop_back();
    return due;
  }

  // The timer fired (or a flush ran): re-arm for what is left.
  void rearm() {
    armed_ms_.reset();
    if (arm && !heap_.empty()) {
      armed_ms_ = heap_.front().due_ms;
      arm(*armed_ms_);
    }
  }

  size_t size() const { return heap_.size(); }

 private:
  static bool later(const ConflationDue& a, const ConflationDue& b) { return a.due_ms > b.due_ms; }

  std::vector<ConflationDue> heap_;  // min-heap by due_ms
  std::optional<int64_t> armed_ms_;
};

}  // namespace herald::node
