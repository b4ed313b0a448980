#pragma once
// Bytes as lowercase hex (2 characters a byte): digests, random keys, signatures.
#include <cstddef>
#include <string>

namespace herald {

inline std::string toHex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

}  // namespace herald
