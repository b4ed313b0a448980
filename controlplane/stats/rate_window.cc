#include "controlplane/stats/rate_window.h"

#include <algorithm>

namespace herald::control {

void RateWindow::addTo(Bucket& bucket, uint32_t stamp, uint64_t n) {
  if (bucket.stamp != stamp) {
    bucket.stamp = stamp;
    bucket.count = 0;
  }
  bucket.count += n;
}

void RateWindow::add(int64_t now_s, uint64_t n) {
  if (now_s < 0) {
    return;
  }
  const int64_t minute = now_s / 60;
  addTo(seconds_[now_s % kSecondBuckets], static_cast<uint32_t>(now_s), n);
  addTo(minutes_[minute % kMinuteBuckets], static_cast<uint32_t>(minute), n);
}

uint64_t RateWindow::sum(int64_t now_s, int64_t seconds) const {
  if (now_s < 0 || seconds <= 0) {
    return 0;
  }
  uint64_t total = 0;
  if (seconds <= kSecondBuckets) {
    for (int64_t s = std::max<int64_t>(0, now_s - seconds + 1); s <= now_s; ++s) {
      const Bucket& b = seconds_[s % kSecondBuckets];
      total += b.stamp == static_cast<uint32_t>(s) ? b.count : 0;
    }
    return total;
  }
  const int64_t minute = now_s / 60;
  const int64_t minutes = std::min<int64_t>((seconds + 59) / 60, kMinuteBuckets);
  for (int64_t m = std::max<int64_t>(0, minute - minutes + 1); m <= minute; ++m) {
    const Bucket& b = minutes_[m % kMinuteBuckets];
    total += b.stamp == static_cast<uint32_t>(m) ? b.count : 0;
  }
  return total;
}

}  // namespace herald::control
