#pragma once

// Internal to the ControlService sources (control_service*.cc): the paging of the List RPCs.

#include <algorithm>
#include <cstdint>
#include <string>

namespace herald::control::paging {

inline constexpr uint32_t kDefaultPageSize = 100;
inline constexpr uint32_t kMaxPageSize = 1000;

// Page tokens carry the last name returned, behind a prefix so that the empty name (the
// default namespace) is a token too; an empty token means "from the start".
inline constexpr char kPageTokenPrefix[] = "after:";

inline bool pageTokenValid(const std::string& token) {
  return token.empty() || token.rfind(kPageTokenPrefix, 0) == 0;
}

// True when `name` was already returned on an earlier page.
inline bool beforeToken(const std::string& name, const std::string& token) {
  return !token.empty() && name <= token.substr(sizeof(kPageTokenPrefix) - 1);
}

inline std::string tokenAfter(const std::string& name) { return kPageTokenPrefix + name; }

inline uint32_t pageSize(uint32_t requested) {
  if (requested == 0) {
    return kDefaultPageSize;
  }
  return std::min(requested, kMaxPageSize);
}

}  // namespace herald::control::paging
