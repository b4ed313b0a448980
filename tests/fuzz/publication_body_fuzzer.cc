// libFuzzer target: the JSON-carrying fields of the Control API (a publication's data, event
// and idempotency key, from Publish, PublishBatch, SendToUser, Broadcast and client
// publishes) through the check herald-control applies before storing them, and the JSON
// scanner the node uses on client frames. Crashes and broken invariants are findings.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "common/publication_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  // The first bytes up to a NUL are the event and key, the rest the data.
  const size_t cut = input.find('\0');
  const std::string_view event = cut == std::string_view::npos ? "" : input.substr(0, cut);
  const std::string_view data = cut == std::string_view::npos ? input : input.substr(cut + 1);

  const herald::Status status = herald::checkPublicationBody(data, event.substr(0, 64), event);
  if (status.isOk()) {
    // Invariant: accepted data is JSON any consumer can take, without deep recursion.
    if (herald::jsonNestingDepth(data) > herald::kMaxJsonDepth ||
        !nlohmann::json::accept(data.begin(), data.end())) {
      __builtin_trap();
    }
    auto doc = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
    (void)doc.dump();  // recursive: safe only because the depth is bounded
  } else if (status.message().empty()) {
    __builtin_trap();
  }

  // The member scanner on any accepted object: every value it returns is itself JSON.
  if (herald::acceptJson(data)) {
    const std::string_view names[] = {"type", "data", "id"};
    std::string_view values[3];
    if (herald::findMembers(data, names, 3, values)) {
      for (const auto& value : values) {
        if (!value.empty() && !nlohmann::json::accept(value.begin(), value.end())) {
          __builtin_trap();
        }
      }
    }
  }
  return 0;
}
