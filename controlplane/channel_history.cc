#include "controlplane/channel_history.h"

namespace herald::control {

void ChannelHistory::append(PublicationPtr publication, const HistoryPolicy& policy,
                            int64_t now_ms) {
  if (policy.size == 0) {
    entries_.clear();
    return;
  }
  entries_.push_back(Entry{std::move(publication), now_ms});
  while (entries_.size() > policy.size) {
    entries_.pop_front();
  }
  expire(policy.ttl_ms, now_ms);
}

size_t ChannelHistory::expire(int64_t ttl_ms, int64_t now_ms) {
  if (ttl_ms <= 0) {
    return 0;
  }
  size_t dropped = 0;
  while (!entries_.empty() && now_ms - entries_.front().stored_ms >= ttl_ms) {
    entries_.pop_front();
    ++dropped;
  }
  return dropped;
}

HistoryRead ChannelHistory::readSince(uint64_t since, uint64_t top, uint32_t limit,
                                      size_t max_bytes, int64_t ttl_ms, int64_t now_ms) const {
  HistoryRead read;
  if (since >= top) {
    read.recovered = since == top;  // a position from the future cannot be this epoch's
    return read;
  }
  // Entries still stored but past their TTL count as gone, as if expire() had run.
  size_t first = 0;
  if (ttl_ms > 0) {
    while (first < entries_.size() && now_ms - entries_[first].stored_ms >= ttl_ms) {
      ++first;
    }
  }
  if (first == entries_.size()) {
    return read;  // something was published after `since` and none of it is left
  }
  const uint64_t oldest = entries_[first].publication->offset();
  read.recovered = oldest <= since + 1;
  size_t start = first;
  if (oldest <= since) {
    start = first + static_cast<size_t>(since + 1 - oldest);
  }
  size_t bytes = 0;
  for (size_t i = start; i < entries_.size(); ++i) {
    const auto& pub = entries_[i].publication;
    bytes += publicationBytes(*pub);
    if ((limit != 0 && read.publications.size() == limit) ||
        (max_bytes != 0 && bytes > max_bytes && !read.publications.empty())) {
      break;
    }
    read.publications.push_back(pub);
  }
  return read;
}

}  // namespace herald::control
