#pragma once

#include <chrono>
#include <cstdint>

namespace herald {

inline int64_t unixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Token times (exp, block and revocation expiry), signatures and the stats windows' slots.
inline int64_t unixSeconds() { return unixMillis() / 1000; }

// For timestamps carried across processes (publish-to-write latency): wall clock, so two hosts
// agree only as well as their clocks do.
inline int64_t unixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// For intervals and TTLs: never jumps with wall-clock changes.
inline int64_t steadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t steadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace herald
