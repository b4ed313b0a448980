#include "cli/bench/ws_frames.h"

namespace herald::bench {

size_t parseServerFrame(std::string_view data, ServerFrame* frame) {
  if (data.size() < 2) {
    return 0;
  }
  const auto b0 = static_cast<uint8_t>(data[0]);
  const auto b1 = static_cast<uint8_t>(data[1]);
  if ((b1 & 0x80) != 0) {
    return SIZE_MAX;  // servers never mask
  }
  size_t header = 2;
  uint64_t length = b1 & 0x7f;
  if (length == 126) {
    if (data.size() < 4) {
      return 0;
    }
    length =
        (static_cast<uint64_t>(static_cast<uint8_t>(data[2])) << 8) | static_cast<uint8_t>(data[3]);
    header = 4;
  } else if (length == 127) {
    if (data.size() < 10) {
      return 0;
    }
    length = 0;
    for (int i = 0; i < 8; ++i) {
      length = (length << 8) | static_cast<uint8_t>(data[2 + i]);
    }
    if ((length >> 63) != 0) {
      return SIZE_MAX;
    }
    header = 10;
  }
  if (data.size() - header < length) {
    return 0;
  }
  frame->fin = (b0 & 0x80) != 0;
  frame->opcode = b0 & 0x0f;
  frame->rsv1 = (b0 & 0x40) != 0;
  frame->payload = data.substr(header, static_cast<size_t>(length));
  return header + static_cast<size_t>(length);
}

std::string clientFrame(uint8_t opcode, std::string_view payload, uint32_t mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) {
      out.push_back(static_cast<char>((static_cast<uint64_t>(payload.size()) >> (8 * i)) & 0xff));
    }
  }
  const char key[4] = {static_cast<char>(mask >> 24), static_cast<char>(mask >> 16),
                       static_cast<char>(mask >> 8), static_cast<char>(mask)};
  out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  }
  return out;
}

bool findNumber(std::string_view text, std::string_view key, uint64_t* out) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) {
    return false;
  }
  size_t i = at + key.size();
  uint64_t value = 0;
  bool any = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
    any = true;
    ++i;
  }
  *out = value;
  return any;
}

}  // namespace herald::bench
