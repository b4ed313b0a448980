#pragma once
// How many joins and leaves a report carries, listed and unlisted: what herald-node counts as
// unreported and herald-control as relayed or failed (docs/protocol.md "join and leave").
#include <cstdint>

#include "herald/v1/node_link.pb.h"

namespace herald {

inline uint64_t joinLeaveEntries(const herald::v1::JoinLeave& change) {
  return static_cast<uint64_t>(change.joined_size()) + static_cast<uint64_t>(change.left_size()) +
         change.joined_unlisted() + change.left_unlisted();
}

inline uint64_t joinLeaveEntries(const herald::v1::JoinLeaveReport& report) {
  uint64_t n = 0;
  for (const auto& change : report.channels()) {
    n += joinLeaveEntries(change);
  }
  return n;
}

}  // namespace herald
