#pragma once

#include <string_view>

namespace herald {

// A node id is 1..128 of A-Z a-z 0-9 . _ : - (the default, "node-<host>-<port>", always is).
// It reaches logs and tables on the control plane before the node is admitted: nothing in it
// may forge a log line or move a terminal's cursor.
bool validNodeId(std::string_view id);

inline constexpr char kNodeIdRule[] = "1..128 of A-Z a-z 0-9 . _ : -";

// The shard a client id names when it is one of node `node_id`'s, else -1. Client ids are
// NODE-SHARD-SEQUENCE (1..4 and 1..20 digits); node ids may hold '-' themselves, so node
// "edge" does not own "edge-2-0-7", node "edge-2"'s.
int clientShard(std::string_view node_id, std::string_view client);

}  // namespace herald
