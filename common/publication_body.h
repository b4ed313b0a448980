#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace herald {

// What every publication must look like, whoever sends it (Publish, PublishBatch, SendToUser,
// Broadcast, a client's publish frame): checked once where it enters herald-control.
inline constexpr size_t kMaxPublicationBytes = 1 << 20;  // data, in bytes
inline constexpr size_t kMaxEventBytes = 128;
inline constexpr size_t kMaxIdempotencyKeyBytes = 256;

// `data` is JSON text of at most kMaxPublicationBytes nested at most kMaxJsonDepth levels
// (common/json_text.h); `event` at most 128 of A-Z a-z 0-9 _ - . : (or empty).
Status checkPublicationPayload(std::string_view data, std::string_view event);

// The payload check and an idempotency key of at most 256 bytes.
Status checkPublicationBody(std::string_view data, std::string_view event,
                            std::string_view idempotency_key);

}  // namespace herald
