#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/fanout/delivery.h"
#include "dataplane/fanout/subscription_index.h"

namespace herald::node {

class ClientSession;
struct ShardState;
using SubscriptionGroup = SubscriptionIndex<ClientSession>::Group;

// Writes `frame` to `sessions`; a recovering session holds it (as its frame of `d`) instead.
// A group's frame (`grouped`) skips sessions whose recovery already covered `d`.
void sendToSessions(ShardState& shard, const std::vector<ClientSession*>& sessions,
                    const std::string* channel, const Delivery& d, const FramePtr& frame, bool drop,
                    bool grouped = false);

/**
 * What a filtered or conflated group of subscriptions gets of publication `d` now: its own
 * frame (with `prev`, and `conflated` under conflation), built once for all its members; or
 * null when its filter does not match or conflation holds `d` back (then it is scheduled on
 * the shard's ConflationSchedule and sent by flushConflated). docs/protocol.md "Tags and
 * filters" and "Conflation".
 */
FramePtr groupFrame(ShardState& shard, const std::string& channel, SubscriptionGroup& group,
                    const DeliveryPtr& d, int64_t now_ms);

// Sends every held-back publication whose group is due at `now_ms` (the shard's timer).
// Returns how many (connection, publication) deliveries that made.
uint64_t flushConflated(ShardState& shard, int64_t now_ms);

}  // namespace herald::node
