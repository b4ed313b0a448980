#pragma once

// permessage-deflate (RFC 7692) as Herald negotiates it: no context takeover either way, so
// every message is a raw DEFLATE stream of its own. That lets the node compress a publication
// once and write the same bytes to every compressing connection, and keeps no zlib state per
// connection: one compressor and one decompressor per thread.

#include <cstddef>
#include <string>
#include <string_view>

namespace herald {

// Compresses one message (RFC 7692 7.2.1): raw DEFLATE at `level` (1..9), flushed, with the
// final 00 00 ff ff removed. Appends to `out`; false (and `out` as it was) if zlib failed.
bool deflateMessage(std::string_view in, int level, std::string* out);

enum class InflateResult {
  kOk,
  kTooLarge,  // would inflate to more than the limit: close 1009
  kCorrupt,   // not a valid DEFLATE stream: close 1007
};

// Decompresses one message received without context takeover (RFC 7692 7.2.2): appends the
// 00 00 ff ff the sender removed and inflates. Appends at most `limit` bytes to `out`; a
// stream that would give more stops there (kTooLarge): a small frame cannot inflate into a
// large allocation.
InflateResult inflateMessage(std::string_view in, size_t limit, std::string* out);

}  // namespace herald
