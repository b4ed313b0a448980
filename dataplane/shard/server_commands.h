#pragma once
// ControlService.Subscribe / Unsubscribe / Refresh / Disconnect as they reach one shard: each
// connection matching the command's user and client (docs/api.md).
#include <string>
#include <vector>

#include "dataplane/shard/shard_state.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

// The shard's connections of `user` (through its user index) with client id `client` (an
// empty one matches any; both empty: none). Copied out: a command may close a connection.
std::vector<ClientSession*> matchingSessions(const ShardState& shard, const std::string& user,
                                             const std::string& client);

void applySubscriptionCommand(ShardState& shard, const herald::v1::SubscriptionCommand& command);
void applyRefreshCommand(ShardState& shard, const herald::v1::RefreshCommand& command);

}  // namespace herald::node
