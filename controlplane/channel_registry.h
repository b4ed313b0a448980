#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "controlplane/router.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

struct PublishOutcome {
  uint64_t offset = 0;
  std::string epoch;
  uint32_t nodes = 0;
  bool duplicate = false;
};

/**
 * Per-channel offsets and epochs. publish() assigns the next offset and hands the
 * publication to the router under the channel's stripe lock, so every node receives a
 * channel's publications in offset order. Epochs are random per channel per process: a
 * restart (which loses in-memory state) changes them, as clients need to know.
 */
class ChannelRegistry {
 public:
  // How many idempotency keys per channel are remembered (oldest forgotten first).
  static constexpr size_t kIdempotencyWindow = 1000;

  // `channel` and `data` are already validated by the caller.
  PublishOutcome publish(const std::string& channel, const std::string& event,
                         const std::string& data, const std::string& idempotency_key,
                         int64_t ts_unix_ms, const Router& router);

  struct ChannelState {
    uint64_t offset = 0;
    std::string epoch;
  };
  // A consistent-per-channel copy of every channel's state, sorted by name.
  std::map<std::string, ChannelState> list() const;
  uint64_t publications() const;

 private:
  struct Channel {
    uint64_t offset = 0;
    std::string epoch;
    std::unordered_map<std::string, uint64_t> keys;  // idempotency key -> offset
    std::deque<std::string> key_order;
  };
  struct Stripe {
    mutable std::mutex mu;
    std::unordered_map<std::string, Channel> channels;
  };
  static constexpr size_t kStripes = 64;

  Stripe& stripeFor(const std::string& channel);

  std::array<Stripe, kStripes> stripes_;
  std::atomic<uint64_t> publications_{0};
};

std::string newRandomEpoch();

}  // namespace herald::control
