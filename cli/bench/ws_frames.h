#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald::bench {

// The few bits of RFC 6455 a load client needs: parsing what a server sends (unmasked) and
// framing what a client sends (masked).
struct ServerFrame {
  uint8_t opcode = 0;
  bool fin = true;
  bool rsv1 = false;  // compressed (permessage-deflate)
  std::string_view payload;
};

// Parses one frame at the start of `data`. Returns the bytes it spans, 0 if incomplete, or
// SIZE_MAX if the frame is malformed (masked server frame, 64-bit length with the top bit).
size_t parseServerFrame(std::string_view data, ServerFrame* frame);

// A masked client frame (text = 1, close = 8, pong = 10).
std::string clientFrame(uint8_t opcode, std::string_view payload, uint32_t mask);

// The unsigned number after `key` (e.g. "\"offset\":") in `text`; false if absent.
bool findNumber(std::string_view text, std::string_view key, uint64_t* out);

}  // namespace herald::bench
