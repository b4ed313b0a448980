#pragma once
// Server frames that carry what a backend's hook said (docs/protocol.md): its JSON spliced
// as written, its refusals with the backend's own code beside Herald's.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "herald/v1/hooks.pb.h"

namespace herald::node {

// `reply` to a subscribe frame, with `info` by channel for the channels whose subscribe hook
// gave one: {"type":"reply","id":N,"ok":true,"channels":[...],"info":{"chan":JSON,...}}.
std::string buildSubscribeReplyFrame(std::optional<uint64_t> id,
                                     const std::vector<std::string>& channels,
                                     const std::vector<std::pair<std::string, std::string>>& infos);

// An `error` frame for a refusal by the backend: Herald's `code`, the backend's message, the
// channel when there is one, and the backend's own error as `backend`.
std::string buildHookRefusalFrame(std::optional<uint64_t> id, ErrorCode code,
                                  const std::string& channel, const herald::v1::HookError& error);

// A frame (a JSON object's text) with one more member whose value is JSON text as it is.
std::string withRawMember(std::string frame, const char* name, const std::string& raw);

}  // namespace herald::node
