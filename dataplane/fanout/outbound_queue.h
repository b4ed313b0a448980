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
 * Publications may be dropped (oldest first) to make room; server frames (replies, errors,
 * recovery results) are kept: losing one would leave the client waiting for an answer.
 */
template <typename Frame>
class OutboundQueue {
 public:
  enum class PushResult {
    kQueued,    // within the bounds
    kDropped,   // queued after dropping the oldest publications (see dropped())
    kOverflow,  // over the bounds and the policy is to disconnect: nothing queued
  };

  struct Entry {
    Frame frame;
    size_t bytes = 0;
    bool kept = false;   // a server frame: never dropped
    uint32_t count = 1;  // publications in the frame (a joined run carries several)
  };

  // A single frame larger than max_bytes is still queued alone, so it is not lost for size.
  // A kept frame is queued over the bounds too, up to twice them: a client that sends but
  // never reads must not grow its queue of answers without end (kOverflow under any policy).
  PushResult push(Frame frame, size_t bytes, size_t max_messages, size_t max_bytes,
                  bool drop_oldest, bool kept = false, uint32_t count = 1) {
    if (kept ? over(bytes, 2 * max_messages, 2 * max_bytes)
             : over(bytes, max_messages, max_bytes) && !drop_oldest) {
      return PushResult::kOverflow;
    }
    size_t dropped = 0;
    if (!kept) {
      for (auto it = frames_.begin();
           it != frames_.end() && over(bytes, max_messages, max_bytes);) {
        if (it->kept) {
          ++it;
          continue;
        }
        bytes_ -= it->bytes;
        dropped += it->count;
        it = frames_.erase(it);
      }
    }
    frames_.push_back(Entry{std::move(frame), bytes, kept, count});
    bytes_ += bytes;
    dropped_ += dropped;
    return dropped == 0 ? PushResult::kQueued : PushResult::kDropped;
  }

  bool empty() const { return frames_.empty(); }
  size_t size() const { return frames_.size(); }
  size_t bytes() const { return bytes_; }
  // Publications dropped (oldest first) since construction.
  uint64_t dropped() const { return dropped_; }

  Entry pop() {
    Entry e = std::move(frames_.front());
    bytes_ -= e.bytes;
    frames_.pop_front();
    return e;
  }
  void clear() {
    frames_.clear();
    bytes_ = 0;
  }

 private:
  bool over(size_t incoming, size_t max_messages, size_t max_bytes) const {
    return !frames_.empty() && ((max_messages != 0 && frames_.size() + 1 > max_messages) ||
                                (max_bytes != 0 && bytes_ + incoming > max_bytes));
  }

  std::deque<Entry> frames_;
  size_t bytes_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace herald::node
