#pragma once
// Reading the replicas' peer messages (ReplicaPresence, ReplicaUserCounts): "<field>\n" lines,
// every one bounded, numbers of at most 19 digits (no overflow).
#include <cstddef>
#include <cstdint>
#include <string>

namespace herald::control::peer_text {

// The line at `*at` (without its '\n', at most `max` bytes); `*at` moves past it.
inline bool readLine(const std::string& text, size_t* at, std::string* out, size_t max) {
  const size_t end = text.find('\n', *at);
  if (end == std::string::npos || end - *at > max) {
    return false;
  }
  *out = text.substr(*at, end - *at);
  *at = end + 1;
  return true;
}

inline bool toNumber(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 19) {
    return false;
  }
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value;
  return true;
}

inline bool readNumber(const std::string& text, size_t* at, uint64_t* out) {
  std::string line;
  return readLine(text, at, &line, 19) && toNumber(line, out);
}

}  // namespace herald::control::peer_text
