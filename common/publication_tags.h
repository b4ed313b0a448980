#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace herald {

// A publication's tags (docs/protocol.md "Tags and filters"): what subscribers' filters match
// on. Bounded so that a publication's tags cost at most a few KiB on every node.
inline constexpr size_t kMaxTags = 32;
inline constexpr size_t kMaxTagKeyBytes = 64;
inline constexpr size_t kMaxTagValueBytes = 256;
inline constexpr size_t kMaxTagsBytes = 4096;  // keys and values together

// A key is 1..64 of A-Z a-z 0-9 _ - . : (as event names).
bool validTagKey(std::string_view key);

// Checks `count` tags that `at(i)` returns as (key, value): at most kMaxTags, valid keys,
// values of at most kMaxTagValueBytes, kMaxTagsBytes in all. bad_request says which one.
template <typename At>
Status checkTags(size_t count, At at);

// The same for any map of strings (std::map, google::protobuf::Map).
template <typename Map>
Status checkTagMap(const Map& tags) {
  std::vector<std::pair<const std::string*, const std::string*>> items;
  items.reserve(tags.size());
  for (const auto& [key, value] : tags) {
    items.emplace_back(&key, &value);
  }
  return checkTags(items.size(), [&](size_t i) {
    return std::pair<std::string_view, std::string_view>(*items[i].first, *items[i].second);
  });
}

Status tagError(std::string message);

template <typename At>
Status checkTags(size_t count, At at) {
  if (count > kMaxTags) {
    return tagError("at most " + std::to_string(kMaxTags) + " tags");
  }
  size_t bytes = 0;
  for (size_t i = 0; i < count; ++i) {
    const auto [key, value] = at(i);
    if (!validTagKey(key)) {
      return tagError("tag key '" + std::string(key.substr(0, 80)) +
                      "' must be 1..64 of A-Z a-z 0-9 _ - . :");
    }
    if (value.size() > kMaxTagValueBytes) {
      return tagError("tag '" + std::string(key) + "': value longer than " +
                      std::to_string(kMaxTagValueBytes) + " bytes");
    }
    bytes += key.size() + value.size();
  }
  if (bytes > kMaxTagsBytes) {
    return tagError("tags longer than " + std::to_string(kMaxTagsBytes) +
                    " bytes (keys and values together)");
  }
  return Status::ok();
}

}  // namespace herald
