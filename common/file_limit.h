#pragma once

#include <cstdint>

namespace herald {

// Raises this process's open-file limit (RLIMIT_NOFILE) to its hard maximum, as every
// connection is a file; returns the limit now in force. Start-up only.
uint64_t raiseOpenFileLimit();

}  // namespace herald
