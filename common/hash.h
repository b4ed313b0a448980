#pragma once

#include <cstdint>
#include <string_view>

namespace herald {

// A 64-bit hash whose every bit depends on every byte: FNV-1a, then murmur3's finaliser
// (FNV-1a alone leaves names that differ in their last bytes, feed:s1, feed:s2, close together
// in the high bits). For placing streams on a ring and for sketches; not for adversaries who
// want collisions (use it where a collision costs accuracy, not safety).
inline uint64_t fnv1a64(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace herald
