#include "common/latency_histogram.h"

namespace herald {

void LatencyHistogram::observeMicros(int64_t micros) {
  if (micros < 0) {
    micros = 0;
  }
  const double seconds = static_cast<double>(micros) / 1e6;
  size_t bucket = 0;
  while (bucket < kBoundsSeconds.size() && seconds > kBoundsSeconds[bucket]) {
    ++bucket;
  }
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(micros), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  for (size_t i = 0; i < kBuckets; ++i) {
    s.counts[i] = counts_[i].load(std::memory_order_relaxed);
  }
  s.sum_micros = sum_micros_.load(std::memory_order_relaxed);
  return s;
}

uint64_t LatencyHistogram::Snapshot::count() const {
  uint64_t n = 0;
  for (uint64_t c : counts) {
    n += c;
  }
  return n;
}

LatencyHistogram::Snapshot& LatencyHistogram::Snapshot::operator+=(const Snapshot& other) {
  for (size_t i = 0; i < kBuckets; ++i) {
    counts[i] += other.counts[i];
  }
  sum_micros += other.sum_micros;
  return *this;
}

}  // namespace herald
