#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace herald {

// Deepest nesting of arrays and objects any JSON that a client or caller sends may have.
// Serialisers (nlohmann's dump(), cpp-jwt, browsers' JSON.parse) recurse once per level; a
// bound here keeps a few hundred KB of `[[[[` from overflowing a thread's stack anywhere.
inline constexpr size_t kMaxJsonDepth = 64;

// The nesting depth of `text`: the most `[`/`{` open at once, outside strings. Counting stops
// at `limit + 1`, so a hostile input costs one pass and no allocation. Does not validate: run
// it before a parser, and let the parser judge the syntax.
size_t jsonNestingDepth(std::string_view text, size_t limit = kMaxJsonDepth);

// True when `text` is valid JSON nested at most `max_depth` levels. Allocates no document
// (nlohmann's SAX acceptor).
bool acceptJson(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Finds the raw text of the top-level members `names[0..count)` of the JSON object `text`,
// which must have passed acceptJson(). values[i] is the member's value exactly as sent
// (surrounding whitespace trimmed), or empty when the object has no such member; a repeated
// name keeps its last value (as nlohmann::json does). Member names are compared decoded
// ("\u0074ype" is "type"). Returns false when `text` is not an object.
bool findMembers(std::string_view text, const std::string_view* names, size_t count,
                 std::string_view* values);

// The raw text of each element of the JSON array `text` (which must have passed acceptJson()),
// whitespace trimmed. Returns false when `text` is not an array.
bool arrayElements(std::string_view text, std::vector<std::string_view>* elements);

}  // namespace herald
