#pragma once

#include <vector>

#include "dataplane/fanout/delivery.h"

namespace herald::node {

struct ShardState;

/**
 * The last step of a publication's path: deliveries that reached a shard, in arrival order,
 * to the transports of the shard's subscribers (docs/architecture.md "A publication's
 * path"). A run of deliveries on one channel is joined into one frame and written once per
 * connection; a session recovering the stream holds its frames instead. On the shard's
 * thread; allocation-free per subscriber.
 */
void fanOut(ShardState& shard, const std::vector<DeliveryPtr>& batch);

}  // namespace herald::node
