#pragma once

// The node's permessage-deflate setting, read by the transport (negotiation) and by framing
// (a prepared frame's compressed copy).

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

}  // namespace herald::node
