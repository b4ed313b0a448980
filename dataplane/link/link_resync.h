#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/stream_keys.h"
#include "dataplane/fanout/delivery.h"
#include "dataplane/link/request_id.h"
#include "dataplane/session/stream_recovery.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * Closes the gap a NodeLink break leaves: publications routed while this node's session was
 * down never reached it. LinkResync remembers the last position delivered per stream (channel
 * or personal) and, when a new session starts, fetches from history what came after it,
 * holding live deliveries of that stream meanwhile (the client recovery's hold-and-dedupe,
 * node-wide). NodeLink reader thread only: no locks.
 */
class LinkResync {
 public:
  // Where the resync's output goes (the Node): deliveries to every shard, and history
  // requests to herald-control ahead of what waits (false when they cannot be queued).
  class Output {
   public:
    virtual ~Output() = default;
    virtual void dispatch(const DeliveryPtr& delivery) = 0;
    virtual bool requestFirst(const herald::v1::RecoverRequest& request) = 0;
  };

  // Request ids with the top bit set are ours; shards use the low 63 bits.
  static bool ownsRequest(uint64_t request_id) { return isResyncRequest(request_id); }
  // Most live deliveries held per stream while its history is fetched.
  static constexpr size_t kMaxHeld = 65536;

  explicit LinkResync(Output& output) : output_(output) {}

  // A live delivery from the control plane: dispatches it, or holds it while its stream is
  // being resynced.
  void onPublication(const herald::v1::Deliver& deliver) {
    const std::string key = keyOf(deliver);
    DeliveryPtr delivery = makeDelivery(deliver);
    if (!key.empty()) {
      if (auto it = resyncing_.find(key); it != resyncing_.end()) {
        if (!it->second->hold(delivery->offset, delivery)) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      auto& position = positions_[key];
      position.offset = deliver.publication().offset();
      position.epoch = deliver.publication().epoch();
    }
    output_.dispatch(delivery);
  }

  // A session said Hello with this interest: resync every stream of it with a known position
  // (and ask again for those still resyncing: their request may have died with the old one).
  void sessionStarted(const std::vector<std::string>& channels,
                      const std::vector<std::string>& users) {
    std::unordered_map<std::string, StreamPosition> kept;
    std::unordered_map<std::string, std::unique_ptr<Recovery>> still;
    std::vector<Recovery*> to_request;
    auto start = [&](const std::string& key, const std::string& channel, const std::string& user) {
      auto pos = positions_.find(key);
      if (pos != positions_.end()) {
        kept[key] = pos->second;
      }
      if (auto it = resyncing_.find(key); it != resyncing_.end()) {
        to_request.push_back(it->second.get());  // its request may have died with the link
        still[key] = std::move(it->second);
        return;
      }
      if (pos == positions_.end()) {
        return;  // nothing delivered here yet: no position to resume from
      }
      auto recovery =
          std::make_unique<Recovery>(kTopBit | next_id_++, channel, user, pos->second, 0, kMaxHeld);
      recovery->setReleaseAllWhenUnrecovered(true);
      by_id_[recovery->requestId()] = key;
      to_request.push_back(recovery.get());
      still[key] = std::move(recovery);
    };
    for (const auto& channel : channels) {
      start(channel, channel, "");
    }
    for (const auto& user : users) {
      start(userStreamKey(user), "", user);
    }
    // Streams without interest now need neither a position nor a resync (their held frames
    // have no one to go to).
    for (const auto& [key, recovery] : resyncing_) {
      if (recovery) {
        by_id_.erase(recovery->requestId());
      }
    }
    positions_ = std::move(kept);
    resyncing_ = std::move(still);
    restarted_.clear();
    for (Recovery* r : to_request) {
      request(*r);
    }
  }

  // A page for one of our requests (see ownsRequest).
  void page(const herald::v1::RecoverResponse& page) {
    auto id = by_id_.find(page.request_id());
    if (id == by_id_.end()) {
      return;
    }
    const std::string key = id->second;
    Recovery& r = *resyncing_.at(key);
    auto step = r.onPage(page);
    for (const herald::v1::Publication* pub : step.send) {
      herald::v1::Deliver deliver;
      if (r.isUserStream()) {
        deliver.set_target(herald::v1::DELIVERY_TARGET_USER);
        deliver.set_user(key.substr(1));
      } else {
        deliver.set_target(herald::v1::DELIVERY_TARGET_CHANNEL);
      }
      *deliver.mutable_publication() = *pub;
      positions_[key] = StreamPosition{pub->offset(), pub->epoch()};
      output_.dispatch(makeDelivery(deliver));
    }
    if (step.finished && restartInNewEpoch(key, step)) {
      return;
    }
    if (step.finished) {
      finish(key, step);
    } else {
      request(r);
    }
  }

  size_t resyncing() const { return resyncing_.size(); }
  // Live deliveries dropped because a stream held more than kMaxHeld (any thread).
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  using Recovery = StreamRecovery<DeliveryPtr>;
  static constexpr uint64_t kTopBit = uint64_t{1} << 63;

  static std::string keyOf(const herald::v1::Deliver& deliver) {
    if (deliver.publication().offset() == 0) {
      return std::string();
    }
    switch (deliver.target()) {
      case herald::v1::DELIVERY_TARGET_CHANNEL:
        return deliver.publication().channel();
      case herald::v1::DELIVERY_TARGET_USER:
        return userStreamKey(deliver.user());
      default:
        return std::string();
    }
  }

  // The stream's epoch changed while the link was down (herald-control restarted with the
  // memory engine): what the new process published before this node linked is in the new
  // epoch's history, so fetch that epoch from its start instead of releasing only what was
  // held, which would skip it. Once per stream per session, in case the epoch keeps moving.
  bool restartInNewEpoch(const std::string& key, Recovery::Step& step) {
    auto pos = positions_.find(key);
    if (step.outcome.recovered || step.outcome.epoch.empty() || pos == positions_.end() ||
        pos->second.epoch.empty() || pos->second.epoch == step.outcome.epoch ||
        !restarted_.insert(key).second) {
      return false;
    }
    Recovery& old = *resyncing_.at(key);
    auto fresh =
        std::make_unique<Recovery>(kTopBit | next_id_++, old.channel(), old.nextRequest().user(),
                                   StreamPosition{0, step.outcome.epoch}, 0, kMaxHeld);
    fresh->setReleaseAllWhenUnrecovered(true);
    for (auto& delivery : step.release) {
      const uint64_t offset = delivery->offset;  // routed after Hello: the new epoch's
      fresh->hold(offset, std::move(delivery));
    }
    by_id_.erase(old.requestId());
    by_id_[fresh->requestId()] = key;
    pos->second = StreamPosition{0, step.outcome.epoch};
    Recovery& next = *(resyncing_[key] = std::move(fresh));
    request(next);
    return true;
  }

  void request(Recovery& r) {
    if (!output_.requestFirst(r.nextRequest())) {
      auto failed = r.fail("unavailable");
      finish(r.isUserStream() ? userStreamKey(r.nextRequest().user()) : r.channel(), failed);
    }
  }

  void finish(const std::string& key, Recovery::Step& step) {
    // The node now has the stream up to the outcome's offset (or restarts from it).
    if (!step.outcome.epoch.empty()) {
      positions_[key] = StreamPosition{step.outcome.offset, step.outcome.epoch};
    }
    for (const auto& delivery : step.release) {
      if (auto pos = positions_.find(key); pos != positions_.end()) {
        pos->second.offset = std::max(pos->second.offset, delivery->offset);
      }
      output_.dispatch(delivery);
    }
    auto it = resyncing_.find(key);
    by_id_.erase(it->second->requestId());
    resyncing_.erase(it);
  }

  Output& output_;
  uint64_t next_id_ = 1;
  std::unordered_map<std::string, StreamPosition> positions_;  // last delivered per stream
  std::unordered_map<std::string, std::unique_ptr<Recovery>> resyncing_;
  std::unordered_map<uint64_t, std::string> by_id_;
  std::unordered_set<std::string> restarted_;  // streams refetched from a new epoch's start
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace herald::node
