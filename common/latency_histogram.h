#pragma once
// A histogram of durations with fixed bucket bounds for /metrics. Observing is a few relaxed
// atomic adds: no lock and no allocation, so hot paths (a shard's fan-out, every Control API
// call) can afford it; a scrape reads a snapshot.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace herald {

class LatencyHistogram {
 public:
  // Upper bounds in seconds, 100 µs to 10 s: the range between a loopback fan-out and a stalled
  // Redis call. One more bucket (+Inf) takes the rest.
  static constexpr std::array<double, 16> kBoundsSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  static constexpr size_t kBuckets = kBoundsSeconds.size() + 1;

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};  // per bucket, not cumulative; last is +Inf
    uint64_t sum_micros = 0;
    uint64_t count() const;
    Snapshot& operator+=(const Snapshot& other);
  };

  // Negative durations (clocks of two hosts a little apart) count as zero.
  void observeMicros(int64_t micros);
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace herald
