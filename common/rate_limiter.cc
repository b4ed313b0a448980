#include "common/rate_limiter.h"

#include <algorithm>

namespace herald {

bool TokenBucket::take(int64_t now_ms, uint32_t rate_per_minute, uint32_t burst) {
  const double cap = std::max<uint32_t>(burst, 1);
  if (tokens_ < 0) {
    tokens_ = cap;
    last_ms_ = now_ms;
  }
  if (now_ms > last_ms_) {
    tokens_ = std::min(cap, tokens_ + (now_ms - last_ms_) * (rate_per_minute / 60000.0));
    last_ms_ = now_ms;
  }
  if (tokens_ < 1.0) {
    return false;
  }
  tokens_ -= 1.0;
  return true;
}

void IpLimiter::pruneLocked(int64_t now_ms) {
  if (now_ms - last_prune_ms_ < 60000) {
    return;
  }
  last_prune_ms_ = now_ms;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool idle = now_ms - it->second.second > 60000 && now_ms - it->second.minute > 60000;
    it = idle ? entries_.erase(it) : std::next(it);
  }
}

bool IpLimiter::admitConnection(const std::string& ip, int64_t now_ms, uint32_t per_second,
                                uint32_t failed_auth_per_minute) {
  std::lock_guard<std::mutex> lock(mu_);
  pruneLocked(now_ms);
  Entry& e = entries_[ip];
  if (now_ms - e.minute < 60000 && e.auth_failures >= failed_auth_per_minute) {
    return false;
  }
  if (now_ms - e.second >= 1000) {
    e.second = now_ms;
    e.connections = 0;
  }
  if (e.connections >= per_second) {
    return false;
  }
  ++e.connections;
  return true;
}

bool IpLimiter::recordAuthFailure(const std::string& ip, int64_t now_ms, uint32_t per_minute) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[ip];
  if (now_ms - e.minute >= 60000) {
    e.minute = now_ms;
    e.auth_failures = 0;
  }
  ++e.auth_failures;
  return e.auth_failures >= per_minute;
}

bool IpLimiter::authBlocked(const std::string& ip, int64_t now_ms, uint32_t per_minute) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(ip);
  return it != entries_.end() && now_ms - it->second.minute < 60000 &&
         it->second.auth_failures >= per_minute;
}

size_t IpLimiter::trackedIps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace herald
