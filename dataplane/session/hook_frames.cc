#include "dataplane/session/hook_frames.h"

#include <nlohmann/json.hpp>

#include "dataplane/session/client_protocol.h"

namespace herald::node {

using json = nlohmann::json;

std::string withRawMember(std::string frame, const char* name, const std::string& raw) {
  frame.pop_back();  // the closing brace
  frame += ",\"";
  frame += name;
  frame += "\":";
  frame += raw;
  frame += '}';
  return frame;
}

std::string buildSubscribeReplyFrame(
    std::optional<uint64_t> id, const std::vector<std::string>& channels,
    const std::vector<std::pair<std::string, std::string>>& infos) {
  std::string frame = buildReplyFrame(id, channels);
  if (infos.empty()) {
    return frame;
  }
  std::string map = "{";
  for (const auto& [channel, info] : infos) {
    if (map.size() > 1) {
      map += ',';
    }
    map += json(channel).dump(-1, ' ', false, json::error_handler_t::replace);
    map += ':';
    map += info;  // checked JSON (checkSubscribeReply)
  }
  map += '}';
  return withRawMember(std::move(frame), "info", map);
}

std::string buildHookRefusalFrame(std::optional<uint64_t> id, ErrorCode code,
                                  const std::string& channel, const herald::v1::HookError& error) {
  json frame = {{"type", "error"}};
  if (id) {
    frame["id"] = *id;
  }
  frame["code"] = errorCodeName(code);
  const std::string message = error.message().empty() ? error.code() : error.message();
  frame["message"] = channel.empty() ? message : "channel '" + channel + "': " + message;
  if (!channel.empty()) {
    frame["channel"] = channel;
  }
  frame["backend"] = {{"code", error.code()}, {"message", error.message()}};
  // A backend's message may hold invalid UTF-8: replaced, never thrown on.
  return frame.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace herald::node
