#pragma once

#include <string>
#include <string_view>

namespace herald {

// `text` safe to print on a terminal or in a line-based log: control characters (C0, DEL and
// C1) and bytes that are not UTF-8 become visible escapes (\n, \r, \t, \xHH), so input that
// reached a log line or a table (a node id, a token's `sub`, a client's data) can neither
// start a forged line nor move the cursor or recolour the screen. Other UTF-8 is kept.
std::string escapeControl(std::string_view text);
void appendEscapedControl(std::string* out, std::string_view text);

// Length of the UTF-8 sequence of a printable character starting at text[i] (i < size), 0 when
// the bytes there are not one (invalid, overlong, a surrogate, or a C1 control).
size_t utf8SequenceLength(std::string_view text, size_t i);

}  // namespace herald
