#pragma once

#include <cstdint>

namespace herald::node {

// The layout of NodeLink request ids (recoveries, client publications), so that an answer
// finds its way back: bit 63 marks the node's own resync requests (LinkResync), bits 48-62
// the shard that asked, bits 0-47 a per-shard sequence.
inline uint64_t shardRequestId(uint32_t shard, uint64_t sequence) {
  return (static_cast<uint64_t>(shard) << 48) | sequence;
}
inline uint64_t shardOfRequest(uint64_t request_id) { return (request_id >> 48) & 0x7fff; }
inline bool isResyncRequest(uint64_t request_id) { return (request_id >> 63) != 0; }

}  // namespace herald::node
