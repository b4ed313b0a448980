#pragma once
// Counts of events over sliding windows with bounded memory, for the stats windows of
// ClusterStats (issue 14: 30 s, 1 min, 1 h, 1 day): the last 60 seconds in per-second buckets
// and the last 1,440 minutes in per-minute buckets, about 18 KB whatever the rate. Each
// bucket carries the second or minute it counts, so buckets left behind by a quiet spell read
// as zero without being cleared. Not thread-safe: its owner serialises calls.
#include <array>
#include <cstdint>

namespace herald::control {

class RateWindow {
 public:
  static constexpr int64_t kSecondBuckets = 60;
  static constexpr int64_t kMinuteBuckets = 1440;

  // `n` events at `now_s` (seconds since any fixed origin, e.g. the Unix epoch).
  void add(int64_t now_s, uint64_t n = 1);

  // Events in the `seconds` up to and including `now_s`. Up to 60 s the count is exact to the
  // second; longer windows count whole minutes, the current one included (so 1 h is the last
  // 60 to 61 minutes). At most a day.
  uint64_t sum(int64_t now_s, int64_t seconds) const;

 private:
  struct Bucket {
    uint32_t stamp = UINT32_MAX;  // the second or minute counted (mod 2^32); MAX = never
    uint64_t count = 0;
  };
  static void addTo(Bucket& bucket, uint32_t stamp, uint64_t n);

  std::array<Bucket, kSecondBuckets> seconds_{};
  std::array<Bucket, kMinuteBuckets> minutes_{};
};

}  // namespace herald::control
