#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace herald::node {

/**
 * A connection's backlog: frames the socket could not take yet, bounded in messages and
 * bytes. Only slow (backlogged) connections use it; a reading client's frames go straight to
 * the socket. `Frame` is a shared, immutable frame pointer, so queueing copies no payload.
 */
template <typename Frame>
class OutboundQueue {
 public:
  enum class PushResult {
    kQueued,    // within the bounds
    kDropped,   // queued after dropping the oldest frames (see dropped())
    kOverflow,  // over the bounds and the policy is to disconnect: nothing queued
  };

  // A single frame larger than max_bytes is still queued alone, so it is not lost for size.
  PushResult push(Frame frame, size_t bytes, size_t max_messages, size_t max_bytes,
                  bool drop_oldest) {
    const bool over = (max_messages != 0 && frames_.size() + 1 > max_messages) ||
                      (max_bytes != 0 && bytes_ + bytes > max_bytes && !frames_.empty());
    if (over && !drop_oldest) {
      return PushResult::kOverflow;
    }
    size_t dropped = 0;
    while (!frames_.empty() && ((max_messages != 0 && frames_.size() + 1 > max_messages) ||
                                (max_bytes != 0 && bytes_ + bytes > max_bytes))) {
      bytes_ -= frames_.front().second;
      frames_.pop_front();
      ++dropped;
    }
    frames_.emplace_back(std::move(frame), bytes);
    bytes_ += bytes;
    dropped_ += dropped;
    return dropped == 0 ? PushResult::kQueued : PushResult::kDropped;
  }

  bool empty() const { return frames_.empty(); }
  size_t size() const { return frames_.size(); }
  size_t bytes() const { return bytes_; }
  // Frames dropped (oldest first) since construction.
  uint64_t dropped() const { return dropped_; }

  size_t frontBytes() const { return frames_.front().second; }
  Frame pop() {
    Frame f = std::move(frames_.front().first);
    bytes_ -= frames_.front().second;
    frames_.pop_front();
    return f;
  }
  void clear() {
    frames_.clear();
    bytes_ = 0;
  }

 private:
  std::deque<std::pair<Frame, size_t>> frames_;
  size_t bytes_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace herald::node
