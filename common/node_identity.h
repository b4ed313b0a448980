#pragma once

#include <string_view>

namespace herald {

// A node id is 1..128 of A-Z a-z 0-9 . _ : - (the default, "node-<host>-<port>", always is).
// It reaches logs and tables on the control plane before the node is admitted: nothing in it
// may forge a log line or move a terminal's cursor.
bool validNodeId(std::string_view id);

inline constexpr char kNodeIdRule[] = "1..128 of A-Z a-z 0-9 . _ : -";

}  // namespace herald
