#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "dataplane/fanout/delivery.h"

namespace herald::node {

/**
 * A smoothed group's publications waiting to go out (docs/protocol.md "Smoothing"), oldest
 * first, each with the time it must be sent by (its arrival plus the interval). The group
 * sends one at a time, evenly spaced after its last send so that every one meets its time: a
 * burst that arrives at once goes out over the interval. Past kMaxQueued the next send takes
 * the excess at once (nothing is dropped). Shard thread only.
 */
class SmoothingQueue {
 public:
  static constexpr size_t kMaxQueued = 1000;

  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  bool over() const { return size() > kMaxQueued; }
  int64_t lastSentMs() const { return last_ms_; }

  // O(1): the new one's time can only narrow the spacing.
  void push(DeliveryPtr d, int64_t due_ms) {
    items_.emplace_back(std::move(d), due_ms);
    const auto n = static_cast<int64_t>(size());
    const int64_t mine = (due_ms - last_ms_) / n;
    gap_ = n == 1 ? mine : std::min(gap_, mine);
  }

  DeliveryPtr pop() {
    DeliveryPtr d = std::move(items_[head_].first);
    ++head_;
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return d;
  }

  // The group sent at `now_ms`: the spacing starts over from there. O(waiting).
  void sent(int64_t now_ms) {
    last_ms_ = now_ms;
    gap_ = 0;
    for (size_t i = head_; i < items_.size(); ++i) {
      const int64_t mine = (items_[i].second - now_ms) / static_cast<int64_t>(i - head_ + 1);
      gap_ = i == head_ ? mine : std::min(gap_, mine);
    }
  }

  // When the next one goes: the widest even spacing after the last send that still sends
  // the i-th waiting one by its time, for every i; at least a millisecond after the last
  // send, and not before `now_ms`.
  int64_t nextAt(int64_t now_ms) const {
    return std::max(now_ms, last_ms_ + std::max<int64_t>(1, gap_));
  }

 private:
  std::vector<std::pair<DeliveryPtr, int64_t>> items_;
  size_t head_ = 0;
  int64_t last_ms_ = 0;
  int64_t gap_ = 0;
};

}  // namespace herald::node
