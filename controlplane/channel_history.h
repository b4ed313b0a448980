#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "herald/v1/control.pb.h"

namespace herald::control {

// What one publication adds to a recovery page, for its byte budget (pages are sized to the
// client's queue): its data, event and tags, and about 128 bytes of the frame's own fields.
inline size_t publicationBytes(const herald::v1::Publication& pub) {
  size_t bytes = pub.data().size() + pub.event().size() + 128;
  for (const auto& [key, value] : pub.tags()) {
    bytes += key.size() + value.size() + 6;
  }
  return bytes;
}

using PublicationPtr = std::shared_ptr<const herald::v1::Publication>;

// How much of a stream's past is kept: the last `size` publications, none older than
// `ttl_ms`. size 0 keeps nothing (recovery then always reports recovered:false).
struct HistoryPolicy {
  uint32_t size = 0;
  int64_t ttl_ms = 0;
};

// What a reader asked for and what the history could give.
struct HistoryRead {
  std::vector<PublicationPtr> publications;  // offset > since, oldest first
  bool recovered = false;                    // true when `publications` are every one after `since`
};

/**
 * The retained past of one stream (a channel or a user's personal stream), oldest first.
 * Not thread-safe: the owner (MemoryStreamEngine) holds the stream's stripe lock around it.
 */
class ChannelHistory {
 public:
  // Appends (offsets must grow by one) and trims to the policy.
  void append(PublicationPtr publication, const HistoryPolicy& policy, int64_t now_ms);
  // Drops what the TTL no longer covers; returns how many were dropped.
  size_t expire(int64_t ttl_ms, int64_t now_ms);

  // Publications after `since`: at most `limit` (0 = no limit) and, past the first, no more
  // than `max_bytes` of data (0 = no limit), so a page fits a gRPC message. `recovered` is
  // true when the retained history reaches back to since+1 (or nothing was published since),
  // i.e. there is no gap. `top` is the stream's current offset.
  HistoryRead readSince(uint64_t since, uint64_t top, uint32_t limit, size_t max_bytes,
                        int64_t ttl_ms, int64_t now_ms) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    PublicationPtr publication;
    int64_t stored_ms = 0;
  };
  std::deque<Entry> entries_;
};

}  // namespace herald::control
