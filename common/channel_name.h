#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace herald {

// Channel names are `namespace:rest` or a bare name in the default namespace.
// Rules (docs/protocol.md): 1..kMaxChannelLength bytes; the namespace is 1..kMaxNamespaceLength
// of [a-z0-9_-]; the rest is 1 or more of [A-Za-z0-9_-.:@=,/] (no spaces, no control bytes).
inline constexpr size_t kMaxChannelLength = 255;
inline constexpr size_t kMaxNamespaceLength = 64;

struct ChannelName {
  std::string_view ns;    // empty for the default namespace
  std::string_view rest;  // the whole name when ns is empty
};

// Validates `name` and splits it; the views point into `name`.
Result<ChannelName> parseChannelName(std::string_view name);

// parseChannelName, with the channel quoted in the error as clients and callers are told:
// "channel 'a b': <why>" (at most 300 bytes of the name).
Result<ChannelName> checkChannelName(std::string_view name);

// Validates a namespace name as used in Namespace.name (empty = default namespace).
Status validateNamespaceName(std::string_view ns);

}  // namespace herald
