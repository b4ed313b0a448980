#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controlplane/channel_history.h"
#include "controlplane/delivery_router.h"
#include "controlplane/stream_engine.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

/**
 * The `memory` stream engine. Streams: per-channel (and per-user, for SendToUser) offsets, epochs
 * and history. publish() assigns the next offset, stores the publication in history and hands it to
 * the router, all under the stream's stripe lock, so every node receives a stream in offset order
 * and a history read sees either all of a publication or none of it. Epochs are random per stream
 * per process: a restart (which loses in-memory state) changes them, as clients need to know.
 * Thread-safe: gRPC handler threads, NodeLink sessions and the sweeper call it at once; each
 * stream is touched only under its stripe's mutex.
 */
class MemoryStreamEngine : public StreamEngine {
 public:
  // How many idempotency keys per channel are remembered (oldest forgotten first).
  static constexpr size_t kIdempotencyWindow = 1000;

  // Publications go to `router`'s nodes, which must outlive the engine.
  explicit MemoryStreamEngine(const DeliveryRouter& router) : router_(router) {}

  PublishOutcome publish(const PublishItem& item) override;
  PublishOutcome sendToUser(const UserPublishItem& item) override;
  Status relayJoinLeave(const std::vector<herald::v1::JoinLeave>& changes) override;

  HistoryResult history(const std::string& channel, const HistoryQuery& query,
                        int64_t now_ms) const override;
  HistoryResult userHistory(const std::string& user, const HistoryQuery& query,
                            int64_t now_ms) const override;

  // Also forgets personal streams with nothing left to recover.
  size_t expire(int64_t now_ms) override;

  // A consistent-per-channel copy of every channel's state.
  Result<std::map<std::string, ChannelState>> list() const override;
  uint64_t publications() const override;
  std::optional<HistorySize> historySize() const override;

 private:
  struct Stream {
    uint64_t offset = 0;
    std::string epoch;
    int64_t ttl_ms = 0;   // of the policy last published with
    int64_t last_ms = 0;  // steady time of the last publication
    ChannelHistory history;
    std::unordered_map<std::string, uint64_t> keys;  // idempotency key -> offset
    std::deque<std::string> key_order;
  };
  struct Stripe {
    mutable std::mutex mu;
    std::unordered_map<std::string, Stream> streams;
  };
  static constexpr size_t kStripes = 64;
  // An idle personal stream with no history left is forgotten after this long.
  static constexpr int64_t kIdleUserStreamMs = 24 * 3600 * 1000;

  Stripe& stripeFor(const std::string& key);
  const Stripe& stripeFor(const std::string& key) const;
  // Under the stripe lock: next offset, history, routing.
  PublishOutcome append(Stream& stream, herald::v1::Deliver deliver, const HistoryPolicy& policy,
                        int64_t now_ms,
                        const std::function<uint32_t(const DeliveryRouter::Visit&)>& route);
  HistoryResult read(const std::string& key, const HistoryQuery& query, int64_t now_ms) const;

  const DeliveryRouter& router_;
  std::array<Stripe, kStripes> stripes_;
  std::atomic<uint64_t> publications_{0};
  // Counted by expire(), which walks every stream once a second anyway.
  std::atomic<uint64_t> retained_streams_{0};
  std::atomic<uint64_t> retained_publications_{0};
};

}  // namespace herald::control
