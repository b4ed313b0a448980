#pragma once

#include <cstdint>

namespace herald {

// The longest conflation interval, for a namespace's conflate_ms and a subscription's
// (docs/protocol.md "Conflation"): a minute between updates is already not "live"; the
// longest smoothing interval (smooth_ms) too.
inline constexpr uint32_t kMaxConflateMs = 60000;

// A subscription's pace, in one number (SubscriptionShape::conflate_ms, a filter group's
// interval): 0 = every publication as it comes; N = conflation to the latest per N ms;
// N | kSmoothBit = bursts spread over N ms (docs/protocol.md "Smoothing"). One number, so
// that groups, their limits and timers tell the shapes apart without another field.
inline constexpr uint32_t kSmoothBit = 0x80000000u;

inline constexpr bool isSmoothing(uint32_t pace) { return (pace & kSmoothBit) != 0; }
inline constexpr bool isConflation(uint32_t pace) { return pace != 0 && !isSmoothing(pace); }
inline constexpr uint32_t paceMs(uint32_t pace) { return pace & ~kSmoothBit; }

// A namespace's pace: its smoothing, else its conflation (the two exclude each other).
inline constexpr uint32_t namespacePace(uint32_t conflate_ms, uint32_t smooth_ms) {
  return smooth_ms > 0 ? (smooth_ms | kSmoothBit) : conflate_ms;
}

// A subscription's pace from what it asked (`asked_conflate_ms`, 0: nothing) and its
// namespace's pace: its own conflation replaces the namespace's smoothing, and is never
// shorter than the namespace's conflation.
inline constexpr uint32_t subscriptionPace(uint32_t asked_conflate_ms, uint32_t ns_pace) {
  if (asked_conflate_ms == 0) {
    return ns_pace;
  }
  if (isSmoothing(ns_pace)) {
    return asked_conflate_ms;
  }
  return asked_conflate_ms > ns_pace ? asked_conflate_ms : ns_pace;
}

}  // namespace herald
