// libFuzzer target: a subscription's `filter` as a client sends it, through the compiler,
// then evaluated against tags taken from the same input. Crashes, unbounded results and a
// canonical text that does not compile to itself are findings.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/publication_tags.h"
#include "common/tag_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  // The filter up to a NUL; after it, tags as key=value lines.
  const size_t cut = input.find('\0');
  const std::string_view text = input.substr(0, cut);
  // As the node does: the frame's depth is bounded before anything is parsed.
  if (herald::jsonNestingDepth(text, herald::kMaxJsonDepth) > herald::kMaxJsonDepth) {
    return 0;
  }
  auto value = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded()) {
    return 0;
  }
  auto filter = herald::TagFilter::compile(value);
  if (!filter.isOk()) {
    if (filter.status().message().empty()) {
      __builtin_trap();
    }
    return 0;
  }
  const std::string& canonical = filter.value()->canonical();
  if (canonical.size() > herald::kMaxFilterBytes) {
    __builtin_trap();
  }
  auto again = herald::TagFilter::compile(nlohmann::json::parse(canonical));
  if (!again.isOk() || again.value()->canonical() != canonical) {
    __builtin_trap();
  }
  std::map<std::string, std::string> tags;
  if (cut != std::string_view::npos) {
    std::string_view rest = input.substr(cut + 1);
    while (!rest.empty() && tags.size() < herald::kMaxTags) {
      const size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      const size_t eq = line.find('=');
      tags[std::string(line.substr(0, eq))] =
          eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
  }
  const herald::TagSet set = herald::TagSet::of(tags);
  // Same answer from the filter and its recompiled canonical form.
  if (filter.value()->matches(set) != again.value()->matches(set)) {
    __builtin_trap();
  }
  return 0;
}
