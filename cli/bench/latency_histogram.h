#pragma once

#include <array>
#include <cstdint>

namespace herald::bench {

/**
 * Latencies in microseconds, log-linear buckets (64 per power of two, so about 1.5% error),
 * fixed size and allocation-free: each worker thread keeps one and they are merged at the
 * end. Covers 0 to about 10^12 us.
 */
class LatencyHistogram {
 public:
  void record(uint64_t us) {
    ++counts_[bucketOf(us)];
    ++total_;
    if (us > max_) {
      max_ = us;
    }
  }
  void merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) {
      counts_[i] += other.counts_[i];
    }
    total_ += other.total_;
    if (other.max_ > max_) {
      max_ = other.max_;
    }
  }
  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  // The value at quantile q (0..1): the upper edge of the bucket holding it.
  uint64_t quantile(double q) const {
    if (total_ == 0) {
      return 0;
    }
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const uint64_t upper = upperEdge(i);
        return upper < max_ ? upper : max_;
      }
    }
    return max_;
  }

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr size_t kBuckets = (40 - kSubBits + 1) << kSubBits;

  static size_t bucketOf(uint64_t v) {
    if (v < (uint64_t{1} << kSubBits)) {
      return static_cast<size_t>(v);
    }
    const int msb = 63 - __builtin_clzll(v);
    const int shift = msb - kSubBits;
    size_t index = (static_cast<size_t>(shift + 1) << kSubBits) +
                   static_cast<size_t>((v >> shift) - (uint64_t{1} << kSubBits));
    return index < kBuckets ? index : kBuckets - 1;
  }
  static uint64_t upperEdge(size_t index) {
    if (index < (size_t{1} << kSubBits)) {
      return index;
    }
    const int shift = static_cast<int>(index >> kSubBits) - 1;
    const uint64_t sub = (index & ((size_t{1} << kSubBits) - 1)) + (uint64_t{1} << kSubBits);
    return ((sub + 1) << shift) - 1;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace herald::bench
