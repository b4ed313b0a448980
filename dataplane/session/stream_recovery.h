#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/tag_filter.h"
#include "dataplane/session/client_protocol.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * One stream (a channel, or the user's personal stream) being recovered for one connection.
 * The connection is already subscribed, so live publications arrive while history pages are
 * fetched: they are held here and released after the history, skipping any offset the
 * history already delivered. That is what makes recovery gap-free and duplicate-free.
 * `Frame` is the shared prepared-frame pointer; the logic needs no sockets.
 */
template <typename Frame>
class StreamRecovery {
 public:
  StreamRecovery(uint64_t request_id, std::string channel, std::string user, StreamPosition since,
                 int64_t deadline_ms, size_t max_held)
      : request_id_(request_id),
        channel_(std::move(channel)),
        user_(std::move(user)),
        epoch_(std::move(since.epoch)),
        next_(since.offset + 1),
        deadline_ms_(deadline_ms),
        max_held_(max_held) {}

  uint64_t requestId() const { return request_id_; }
  // Asked again under a new id (the link that carried the request broke): an answer to the
  // old id, if one still comes, no longer matches.
  void setRequestId(uint64_t request_id) { request_id_ = request_id; }
  const std::string& channel() const { return channel_; }
  bool isUserStream() const { return channel_.empty(); }
  int64_t deadlineMs() const { return deadline_ms_; }
  // Progress moves the deadline: a long recovery that keeps going does not time out.
  void extendDeadline(int64_t deadline_ms) { deadline_ms_ = deadline_ms; }
  // Data bytes and publications asked per page, so one page fits the connection's queue
  // (0: the control plane's default).
  void setPageSize(uint32_t bytes, uint32_t publications) {
    page_bytes_ = bytes;
    page_publications_ = publications;
  }
  // Unrecovered, release every held live frame rather than those after the reported offset:
  // for the node's own resync, where no client is told about the gap.
  void setReleaseAllWhenUnrecovered(bool all) { release_all_unrecovered_ = all; }
  // A filtered or conflated subscription's recovery: only publications `filter` matches
  // (null: all) are sent, under `conflate` only the latest of them, each with the offset of
  // the one sent before it (the client's position for the first).
  void setShape(TagFilterPtr filter, bool conflate) {
    filter_ = std::move(filter);
    conflate_ = conflate;
    filter_prev_ = next_ - 1;
  }
  // The next page waits until the connection has sent what the last one queued.
  bool waitingForDrain() const { return waiting_for_drain_; }
  void setWaitingForDrain(bool waiting) { waiting_for_drain_ = waiting; }
  // The request for the next page (after the last offset delivered).
  herald::v1::RecoverRequest nextRequest() const {
    herald::v1::RecoverRequest request;
    request.set_request_id(request_id_);
    request.set_channel(channel_);
    if (channel_.empty()) {
      request.set_user(user_);
    }
    request.set_since_offset(next_ - 1);
    request.set_epoch(epoch_);
    request.set_max_bytes(page_bytes_);
    request.set_max_publications(page_publications_);
    return request;
  }

  // A live publication for this stream arrived: hold it until the history is out. Returns
  // false when the oldest held frame had to be dropped (max_held reached).
  bool hold(uint64_t offset, Frame frame) {
    bool kept_all = true;
    if (held_.size() >= max_held_ && !held_.empty()) {
      held_.pop_front();
      kept_all = false;
    }
    held_.emplace_back(offset, std::move(frame));
    return kept_all;
  }

  struct Step {
    std::vector<const herald::v1::Publication*> send;  // from the page, to send now in order
    std::vector<uint64_t> prev;       // with a shape: each sent one's `prev` (else empty)
    std::vector<uint32_t> conflated;  // under conflation: how many each replaced (else empty)
    bool finished = false;            // then: send `outcome`, then `release`
    RecoveryOutcome outcome;
    std::vector<Frame> release;
  };

  // Applies one page (pointers in `send` point into `page`).
  Step onPage(const herald::v1::RecoverResponse& page) {
    Step step;
    if (!page.recovered()) {
      finish(false, page.offset(), page.epoch(), "", &step);
      return step;
    }
    if (epoch_.empty()) {
      epoch_ = page.epoch();  // a client without a position adopts the stream's epoch
    } else if (!page.epoch().empty() && page.epoch() != epoch_) {
      finish(false, page.offset(), page.epoch(), "", &step);  // the epoch changed mid-way
      return step;
    }
    for (const auto& pub : page.publications()) {
      if (pub.offset() >= next_) {
        next_ = pub.offset() + 1;
        if (filter_ != nullptr && !filter_->matches(TagSet::of(pub.tags()))) {
          continue;  // filtered out: neither sent nor counted as missed
        }
        if (conflate_) {  // only the latest goes, at the end
          latest_replaced_ += latest_ != nullptr ? 1 : 0;
          latest_ = std::make_unique<herald::v1::Publication>(pub);
          continue;
        }
        if (filter_ != nullptr) {  // (conflated ones went on above)
          step.prev.push_back(filter_prev_);
          filter_prev_ = pub.offset();
        }
        step.send.push_back(&pub);
        ++missed_;
      }
    }
    const bool stalled = !page.complete() && page.publications_size() == 0;
    if (page.complete() || stalled) {
      finish(!stalled, page.offset(), page.epoch(), "", &step);
    }
    return step;
  }

  // The request could not be answered (no control plane, deadline passed): recovered false
  // at the client's own position, and live publications resume.
  Step fail(const std::string& reason) {
    Step step;
    finish(false, next_ - 1, epoch_, reason, &step);
    return step;
  }

 private:
  void finish(bool recovered, uint64_t top, const std::string& epoch, const std::string& reason,
              Step* step) {
    step->finished = true;
    if (recovered && latest_ != nullptr) {  // conflated: the latest stands for the rest
      step->send.push_back(latest_.get());
      step->prev.push_back(filter_prev_);
      step->conflated.push_back(latest_replaced_);
      filter_prev_ = latest_->offset();
      ++missed_;
    }
    auto& out = step->outcome;
    out.channel = channel_;
    out.user = user_;
    out.recovered = recovered;
    out.offset = recovered ? std::max(top, next_ - 1) : top;
    out.epoch = epoch;
    out.missed = missed_;
    out.reason = reason;
    // Live frames after what was delivered (recovered) or after the reported offset (not).
    const uint64_t first = recovered ? next_ : (release_all_unrecovered_ ? 0 : top + 1);
    for (auto& [offset, frame] : held_) {
      if (offset >= first) {
        step->release.push_back(std::move(frame));
      }
    }
    held_.clear();
  }

  uint64_t request_id_;
  const std::string channel_;
  const std::string user_;
  std::string epoch_;
  uint64_t next_;  // first offset the client has not received
  uint64_t missed_ = 0;
  int64_t deadline_ms_;
  const size_t max_held_;
  uint32_t page_bytes_ = 0;
  uint32_t page_publications_ = 0;
  bool waiting_for_drain_ = false;
  bool release_all_unrecovered_ = false;
  std::deque<std::pair<uint64_t, Frame>> held_;
  TagFilterPtr filter_;
  bool conflate_ = false;
  uint64_t filter_prev_ = 0;
  std::unique_ptr<herald::v1::Publication> latest_;  // conflated: the latest match so far
  uint32_t latest_replaced_ = 0;
};

}  // namespace herald::node
