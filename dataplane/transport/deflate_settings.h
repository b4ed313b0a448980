#pragma once

// The node's permessage-deflate setting, read by the transport (negotiation) and by framing
// (prepared frames carry a compressed copy while a connection can take it).

#include <cstddef>
#include <cstdint>

namespace herald::node {

struct DeflateSettings {
  bool enabled = false;      // offers are declined while false (the default)
  uint32_t min_bytes = 256;  // smaller payloads are sent uncompressed
  int level = 1;             // zlib level 1..9: fan-out favours speed over ratio
};

// Set once at start-up, before any shard runs (herald-node's --compression flags); read-only
// afterwards. Tests may set it between runs.
void setDeflateSettings(const DeflateSettings& settings);
const DeflateSettings& deflateSettings();

// Connections that negotiated compression, on every shard: frames get a compressed copy only
// while there is one, so a node with compression on and no such client pays nothing.
void countDeflateConnection(int delta);
bool anyDeflateConnection();

// Whether a payload of this size should get a compressed copy now.
inline bool shouldDeflate(size_t payload_bytes) {
  const auto& s = deflateSettings();
  return s.enabled && payload_bytes >= s.min_bytes && anyDeflateConnection();
}

}  // namespace herald::node
