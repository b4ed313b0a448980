#include "common/publication_body.h"

#include <algorithm>
#include <string>

#include "common/json_text.h"

namespace herald {
namespace {

bool validEventChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

Status bad(std::string message) { return Status(ErrorCode::kBadRequest, std::move(message)); }

}  // namespace

Status checkPublicationPayload(std::string_view data, std::string_view event) {
  if (data.size() > kMaxPublicationBytes) {
    return bad("data is " + std::to_string(data.size()) + " bytes; the limit is " +
               std::to_string(kMaxPublicationBytes));
  }
  // Depth before syntax: every consumer of `data` (nodes, heraldctl, browsers) may recurse.
  if (!data.empty() && jsonNestingDepth(data) > kMaxJsonDepth) {
    return bad("data nests arrays/objects deeper than " + std::to_string(kMaxJsonDepth) +
               " levels");
  }
  if (data.empty() || !acceptJson(data)) {
    return bad("data must be valid JSON text (e.g. {\"price\":1} or \"text\")");
  }
  if (event.size() > kMaxEventBytes || !std::all_of(event.begin(), event.end(), validEventChar)) {
    return bad("event must be at most 128 of A-Z a-z 0-9 _ - . :");
  }
  return Status::ok();
}

Status checkPublicationBody(std::string_view data, std::string_view event,
                            std::string_view idempotency_key) {
  if (Status payload = checkPublicationPayload(data, event); !payload.isOk()) {
    return payload;
  }
  if (idempotency_key.size() > kMaxIdempotencyKeyBytes) {
    return bad("idempotency_key longer than 256 bytes");
  }
  return Status::ok();
}

}  // namespace herald
