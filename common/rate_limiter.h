#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace herald {

/**
 * A token bucket: `rate_per_minute` tokens refill continuously up to `burst`. Small (16 bytes)
 * so every connection can carry one; not thread-safe (a connection lives on one thread).
 */
class TokenBucket {
 public:
  // Takes one token at `now_ms` (any monotonic clock); false when none is left.
  bool take(int64_t now_ms, uint32_t rate_per_minute, uint32_t burst);

 private:
  double tokens_ = -1;  // < 0: not started (starts full)
  int64_t last_ms_ = 0;
};

/**
 * Per-source-IP limits shared by every shard of a node: new connections per second, and
 * failed authentications per minute (an IP over it is refused until its minute ends).
 * Guarded by a mutex: it is on the connect path only, never per message.
 */
class IpLimiter {
 public:
  // Counts a new connection from `ip`; false when it is over `per_second` (or blocked for
  // failed authentications).
  bool admitConnection(const std::string& ip, int64_t now_ms, uint32_t per_second,
                       uint32_t failed_auth_per_minute);
  // Counts a failed authentication; true when `ip` is now over `per_minute`.
  bool recordAuthFailure(const std::string& ip, int64_t now_ms, uint32_t per_minute);
  bool authBlocked(const std::string& ip, int64_t now_ms, uint32_t per_minute);
  size_t trackedIps() const;

 private:
  struct Entry {
    int64_t second = 0;  // window start (ms) of `connections`
    uint32_t connections = 0;
    int64_t minute = 0;  // window start (ms) of `auth_failures`
    uint32_t auth_failures = 0;
  };
  // Drops entries idle for over a minute, at most once a minute (bounded memory under scans).
  void pruneLocked(int64_t now_ms);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  int64_t last_prune_ms_ = 0;
};

}  // namespace herald
