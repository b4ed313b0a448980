#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace herald {

// A tag value read as a number: a whole decimal (JSON-style) number, finite; nullopt-like
// false otherwise. Shared by filters' operands and publications' values so both read alike.
bool parseTagNumber(std::string_view text, double* out);

struct TagEntry {
  std::string key;
  std::string value;
  bool numeric = false;  // value parsed as a number (for gt/gte/lt/lte), once per publication
  double number = 0;
};

/**
 * A publication's tags, sorted by key with numbers parsed: built once per publication per
 * node (or per recovered publication), then read by every filter that evaluates it.
 */
class TagSet {
 public:
  TagSet() = default;

  template <typename Map>
  static TagSet of(const Map& tags) {
    TagSet set;
    set.entries_.reserve(tags.size());
    for (const auto& [key, value] : tags) {
      TagEntry entry;
      entry.key = key;
      entry.value = value;
      entry.numeric = parseTagNumber(entry.value, &entry.number);
      set.entries_.push_back(std::move(entry));
    }
    std::sort(set.entries_.begin(), set.entries_.end(),
              [](const TagEntry& a, const TagEntry& b) { return a.key < b.key; });
    return set;
  }

  const TagEntry* find(std::string_view key) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const TagEntry& e, std::string_view k) { return e.key < k; });
    return it != entries_.end() && it->key == key ? &*it : nullptr;
  }

  bool empty() const { return entries_.empty(); }
  const std::vector<TagEntry>& entries() const { return entries_; }

 private:
  std::vector<TagEntry> entries_;
};

}  // namespace herald
