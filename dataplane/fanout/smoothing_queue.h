#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dataplane/fanout/delivery.h"

namespace herald::node {

/**
 * A smoothed group's publications waiting to go out (docs/protocol.md "Smoothing"), oldest
 * first, each with the time it must be sent by (its arrival plus the interval). They go out
 * in slots evenly spaced after the group's last send, as widely as lets every one meet its
 * time: a burst that arrives at once goes out over the interval. The shard's timer ticks at
 * most once a millisecond; a tick sends every slot that has passed and everything due, so a
 * spacing under a millisecond sends several per tick. Shard thread only.
 */
class SmoothingQueue {
 public:
  // Past this many waiting, the next tick sends the excess at once (nothing is dropped).
  static constexpr size_t kMaxQueued = 1000;

  struct Item {
    DeliveryPtr delivery;
    int64_t due_ms = 0;
    // The group's loss floor when this one arrived (Group::lost_upto): a later epoch resets
    // the group's, and this one's `prev` must still show what was lost before it.
    uint64_t lost_upto = 0;
  };

  SmoothingQueue() = default;
  SmoothingQueue(SmoothingQueue&& other) noexcept { *this = std::move(other); }
  // A group moved over another (SubscriptionIndex::remove) takes its place: what the other
  // still held leaves the gauge.
  SmoothingQueue& operator=(SmoothingQueue&& other) noexcept {
    if (this != &other) {
      count(-static_cast<int64_t>(size()));
      items_ = std::move(other.items_);
      head_ = other.head_;
      last_ms_ = other.last_ms_;
      gap_ = other.gap_;
      gauge_ = other.gauge_;
      other.items_.clear();
      other.head_ = 0;
      other.gauge_ = nullptr;
    }
    return *this;
  }
  SmoothingQueue(const SmoothingQueue&) = delete;
  SmoothingQueue& operator=(const SmoothingQueue&) = delete;
  // Publications still waiting when the group goes (its last member left) are not sent.
  ~SmoothingQueue() { count(-static_cast<int64_t>(size())); }

  // Where the shard counts waiting publications (/stats smoothing_waiting).
  void setGauge(std::atomic<uint64_t>* gauge) {
    if (gauge_ == nullptr) {
      gauge_ = gauge;
      count(static_cast<int64_t>(size()));
    }
  }

  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  bool over() const { return size() > kMaxQueued; }
  const Item& front() const { return items_[head_]; }

  // O(1): the new one's time can only narrow the spacing.
  void push(Item item) {
    const double mine =
        static_cast<double>(item.due_ms - last_ms_) / static_cast<double>(size() + 1);
    gap_ = empty() ? mine : std::min(gap_, mine);
    items_.push_back(std::move(item));
    count(1);
  }

  Item pop() {
    Item item = std::move(items_[head_]);
    ++head_;
    count(-1);
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
      if (items_.capacity() > 4 * kMaxQueued) {
        std::vector<Item>().swap(items_);  // a large burst's buffer does not stay
      }
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return item;
  }

  // How many to send on a tick at `now_ms`: every slot that has passed since the last send,
  // everything due by now, the excess over kMaxQueued; at least one.
  size_t dueAt(int64_t now_ms) const {
    size_t n = 1;
    if (gap_ > 0) {
      const double slots = std::floor(static_cast<double>(now_ms - last_ms_) / gap_);
      n = std::max<size_t>(1, static_cast<size_t>(std::min<double>(slots, 1e9)));
    } else {
      n = size();  // overdue already
    }
    while (n < size() && items_[head_ + n].due_ms <= now_ms) {
      ++n;
    }
    if (size() > kMaxQueued) {
      n = std::max(n, size() - kMaxQueued);
    }
    return std::min(n, size());
  }

  // The group sent `count` at `now_ms`. The spacing is kept when that was one, in its slot
  // (it then still fits every one left); after a late or catching-up send it is worked out
  // again, O(waiting).
  void sent(int64_t now_ms, size_t count) {
    const bool in_slot =
        count == 1 && gap_ >= 1 && now_ms - last_ms_ <= static_cast<int64_t>(std::ceil(gap_)) + 1;
    last_ms_ = now_ms;
    if (in_slot || empty()) {
      return;
    }
    for (size_t i = head_; i < items_.size(); ++i) {
      const double mine =
          static_cast<double>(items_[i].due_ms - now_ms) / static_cast<double>(i - head_ + 1);
      gap_ = i == head_ ? mine : std::min(gap_, mine);
    }
  }

  // When the next tick is: the next slot, at least a millisecond after the last send, not
  // before `now_ms`.
  int64_t nextAt(int64_t now_ms) const {
    const auto slot = last_ms_ + static_cast<int64_t>(std::ceil(std::max(1.0, gap_)));
    return std::max(now_ms, slot);
  }

 private:
  void count(int64_t delta) {
    if (gauge_ != nullptr && delta != 0) {
      gauge_->fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
    }
  }

  std::vector<Item> items_;
  size_t head_ = 0;
  int64_t last_ms_ = 0;
  double gap_ = 0;
  std::atomic<uint64_t>* gauge_ = nullptr;
};

}  // namespace herald::node
