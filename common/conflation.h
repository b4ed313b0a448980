#pragma once

#include <cstdint>

namespace herald {

// The longest conflation interval, for a namespace's conflate_ms and a subscription's
// (docs/protocol.md "Conflation"): a minute between updates is already not "live".
inline constexpr uint32_t kMaxConflateMs = 60000;

}  // namespace herald
