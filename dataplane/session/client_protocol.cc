#include "dataplane/session/client_protocol.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/conflation.h"
#include "common/hook_settings.h"
#include "common/json_text.h"
#include "common/publication_tags.h"
#include "common/strings.h"

namespace herald::node {
namespace {

using nlohmann::json;

Status bad(std::string message) { return Status(ErrorCode::kBadRequest, std::move(message)); }

Status readChannelList(const json& frame, std::vector<std::string>* out) {
  auto it = frame.find("channels");
  if (it == frame.end()) {
    return bad("'channels' is required: an array of channel names");
  }
  if (!it->is_array()) {
    return bad("'channels' must be an array of strings");
  }
  if (it->empty()) {
    return bad("'channels' is empty");
  }
  if (it->size() > kMaxChannelsPerCommand) {
    return Status(ErrorCode::kLimitExceeded, "at most 100 channels per frame");
  }
  out->reserve(it->size());
  for (const auto& item : *it) {
    if (!item.is_string()) {
      return bad("'channels' must be an array of strings");
    }
    out->push_back(item.get<std::string>());
  }
  return Status::ok();
}

constexpr size_t kMaxEpochBytes = 64;

bool validEpoch(const std::string& epoch) {
  if (epoch.size() > kMaxEpochBytes) {
    return false;
  }
  for (char c : epoch) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      return false;
    }
  }
  return true;
}

// {"offset": N, "epoch": "..."}; epoch optional.
bool readPosition(const json& value, StreamPosition* out) {
  if (!value.is_object()) {
    return false;
  }
  auto offset = value.find("offset");
  if (offset == value.end() || !offset->is_number_unsigned()) {
    return false;
  }
  out->offset = offset->get<uint64_t>();
  if (auto epoch = value.find("epoch"); epoch != value.end()) {
    if (!epoch->is_string() || !validEpoch(epoch->get_ref<const std::string&>())) {
      return false;
    }
    out->epoch = epoch->get<std::string>();
  }
  return true;
}

Status readSince(const json& frame, ClientCommand* cmd) {
  auto since = frame.find("since");
  if (since == frame.end()) {
    return Status::ok();
  }
  if (!since->is_object()) {
    return bad("'since' must be an object: {\"CHANNEL\":{\"offset\":N,\"epoch\":\"E\"}}");
  }
  for (const auto& channel : cmd->channels) {
    auto it = since->find(channel);
    if (it == since->end()) {
      continue;
    }
    StreamPosition position;
    if (!readPosition(*it, &position)) {
      return bad("'since' for '" + channel.substr(0, 300) +
                 "' must be {\"offset\":N,\"epoch\":\"E\"} (offset a non-negative integer, "
                 "epoch up to 64 letters and digits)");
    }
    if (std::none_of(cmd->since.begin(), cmd->since.end(),
                     [&](const auto& p) { return p.first == channel; })) {
      cmd->since.emplace_back(channel, std::move(position));
    }
  }
  for (const auto& item : since->items()) {
    if (std::find(cmd->channels.begin(), cmd->channels.end(), item.key()) == cmd->channels.end()) {
      return bad("'since' names '" + item.key().substr(0, 300) + "', which is not in 'channels'");
    }
  }
  return Status::ok();
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendId(json* frame, std::optional<uint64_t> id) {
  if (id) {
    (*frame)["id"] = *id;
  }
}

// The top-level members a client frame may carry, in the order of FrameMember.
constexpr std::string_view kMemberNames[] = {"type",    "id",         "channels", "since",
                                             "channel", "data",       "event",    "idempotency_key",
                                             "token",   "user_since", "method",   "filter",
                                             "tags",    "conflate_ms"};
enum FrameMember {
  kType,
  kId,
  kChannels,
  kSince,
  kChannel,
  kData,
  kEvent,
  kIdempotencyKey,
  kToken,
  kUserSince,
  kMethod,
  kFilter,
  kTags,
  kConflateMs,
  kMemberCount
};

// One member's value as a document. Members are small (the frame is bounded and was accepted
// with a depth limit), so this is cheap; `data` is never parsed.
json member(std::string_view raw) {
  return json::parse(raw.begin(), raw.end(), nullptr, /*allow_exceptions=*/false);
}

// Reads an optional string member; false when present and not a string.
bool readOptionalString(std::string_view raw, std::string* out) {
  if (raw.empty()) {
    return true;
  }
  json value = member(raw);
  if (!value.is_string()) {
    return false;
  }
  *out = std::move(value.get_ref<std::string&>());
  return true;
}

// `tags`: optional, an object of strings within common/publication_tags.h's bounds.
Status readTags(std::string_view raw, std::map<std::string, std::string>* out) {
  if (raw.empty()) {
    return Status::ok();
  }
  json value = member(raw);
  if (!value.is_object()) {
    return bad("'tags' must be an object of strings: {\"KEY\":\"VALUE\"}");
  }
  for (auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return bad("'tags' must be an object of strings: '" + key.substr(0, 64) +
                 "' is not a string");
    }
    if (out->size() > kMaxTags) {
      break;  // checkTagMap reports the count
    }
    (*out)[key] = item.get<std::string>();
  }
  return checkTagMap(*out);
}

void parsePublish(const std::string_view* members, ParsedFrame* out) {
  ClientCommand& cmd = out->command;
  cmd.type = CommandType::kPublish;
  if (members[kChannel].empty() || !readOptionalString(members[kChannel], &cmd.channel)) {
    out->status = bad("'channel' is required and must be a string");
  } else if (members[kData].empty()) {
    out->status = bad("'data' is required");
  } else if (!readOptionalString(members[kEvent], &cmd.event)) {
    out->status = bad("'event' must be a string");
  } else if (!readOptionalString(members[kIdempotencyKey], &cmd.idempotency_key)) {
    out->status = bad("'idempotency_key' must be a string");
  } else if (Status tags = readTags(members[kTags], &cmd.tags); !tags.isOk()) {
    out->status = tags;
  } else {
    // Forwarded as sent: validated with the frame, never re-serialised (no recursion).
    cmd.data = std::string(members[kData]);
  }
}

void parseRpc(const std::string_view* members, ParsedFrame* out) {
  ClientCommand& cmd = out->command;
  cmd.type = CommandType::kRpc;
  if (!out->id.has_value()) {
    out->status = bad("'id' is required: the reply carries it");
  } else if (members[kMethod].empty() || !readOptionalString(members[kMethod], &cmd.method) ||
             !validRpcMethod(cmd.method)) {
    out->status = bad("'method' is required: 1..128 of A-Z a-z 0-9 _ . : / -");
  } else {
    // Forwarded as sent, like a publication's data.
    cmd.data = members[kData].empty() ? std::string("null") : std::string(members[kData]);
  }
}

void parseAuthenticate(const std::string_view* members, ParsedFrame* out) {
  ClientCommand& cmd = out->command;
  cmd.type = CommandType::kAuthenticate;
  if (members[kToken].empty() || !readOptionalString(members[kToken], &cmd.token) ||
      cmd.token.empty()) {
    out->status = bad("'token' is required and must be a non-empty string");
    return;
  }
  if (!members[kUserSince].empty()) {
    StreamPosition position;
    if (!readPosition(member(members[kUserSince]), &position)) {
      out->status =
          bad("'user_since' must be {\"offset\":N,\"epoch\":\"E\"} (offset a non-negative "
              "integer, epoch up to 64 letters and digits)");
    } else {
      cmd.user_since = std::move(position);
    }
  }
}

void parseChannelCommand(const std::string_view* members, bool with_since, ParsedFrame* out) {
  ClientCommand& cmd = out->command;
  json frame = json::object();
  if (!members[kChannels].empty()) {
    frame["channels"] = member(members[kChannels]);
  }
  if (with_since && !members[kSince].empty()) {
    frame["since"] = member(members[kSince]);
  }
  out->status = readChannelList(frame, &cmd.channels);
  if (out->status.isOk() && with_since) {
    out->status = readSince(frame, &cmd);
  }
  if (out->status.isOk() && with_since && !members[kFilter].empty()) {
    auto filter = TagFilter::compile(member(members[kFilter]));
    if (filter.isOk()) {
      cmd.shape.filter = std::move(filter.value());
    } else {
      out->status = filter.status();
    }
  }
  if (out->status.isOk() && with_since && !members[kConflateMs].empty()) {
    json value = member(members[kConflateMs]);
    if (!value.is_number_unsigned() || value.get<uint64_t>() > kMaxConflateMs) {
      out->status =
          bad("'conflate_ms' must be an integer from 0 to " + std::to_string(kMaxConflateMs));
    } else {
      cmd.shape.conflate_ms = value.get<uint32_t>();
    }
  }
}

}  // namespace

std::optional<uint64_t> peekFrameId(std::string_view text) {
  if (!acceptJson(text)) {
    return std::nullopt;
  }
  std::string_view id;
  const std::string_view name = "id";
  if (!findMembers(text, &name, 1, &id) || id.empty()) {
    return std::nullopt;
  }
  json value = member(id);
  if (!value.is_number_unsigned()) {
    return std::nullopt;
  }
  return value.get<uint64_t>();
}

ParsedFrame parseClientFrame(std::string_view text, FrameScope scope) {
  ParsedFrame out;
  // Depth first (one pass, no allocation), then syntax without building a document: garbage
  // and hostile nesting are normal input here.
  if (jsonNestingDepth(text, kMaxJsonDepth) > kMaxJsonDepth) {
    out.too_deep = true;
    out.status =
        bad("frame nests arrays/objects deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return out;
  }
  if (!acceptJson(text)) {
    out.status = bad("frame is not valid JSON");
    return out;
  }
  std::string_view members[kMemberCount];
  if (!findMembers(text, kMemberNames, kMemberCount, members)) {
    out.status = bad("frame must be a JSON object with a 'type'");
    return out;
  }
  if (!members[kId].empty()) {
    json id = member(members[kId]);
    if (!id.is_number_unsigned()) {
      out.status = bad("'id' must be a non-negative integer");
      return out;
    }
    out.id = id.get<uint64_t>();
  }
  std::string name;
  if (members[kType].empty() || !readOptionalString(members[kType], &name)) {
    out.status = bad("'type' is required and must be a string");
    return out;
  }
  if (scope == FrameScope::kAuthenticateOnly && name != "authenticate") {
    // Before a token, nothing but the type is read.
    out.status = Status(ErrorCode::kUnauthorized,
                        "authenticate first: send {\"type\":\"authenticate\",\"token\":\"...\"}");
    return out;
  }
  ClientCommand& cmd = out.command;
  if (name == "subscribe") {
    cmd.type = CommandType::kSubscribe;
    parseChannelCommand(members, /*with_since=*/true, &out);
  } else if (name == "unsubscribe") {
    cmd.type = CommandType::kUnsubscribe;
    parseChannelCommand(members, /*with_since=*/false, &out);
  } else if (name == "ping") {
    cmd.type = CommandType::kPing;
  } else if (name == "publish") {
    parsePublish(members, &out);
  } else if (name == "authenticate") {
    parseAuthenticate(members, &out);
  } else if (name == "rpc") {
    parseRpc(members, &out);
  } else {
    out.status = bad("unknown type '" + name.substr(0, 64) +
                     "' (expected subscribe, unsubscribe, ping, publish, rpc or authenticate)");
  }
  return out;
}

std::vector<std::string> splitChannelList(std::string_view list) {
  return splitNonEmpty(list, ',');
}

std::optional<std::string> urlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return std::nullopt;
      }
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view key) {
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    const std::string_view pair = query.substr(start, amp - start);
    const size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    if (name == key) {
      return urlDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    }
    start = amp + 1;
  }
  return std::nullopt;
}

std::optional<StreamPosition> parseStreamPosition(std::string_view text) {
  const size_t colon = text.find(':');
  const std::string_view number = text.substr(0, colon);
  if (number.empty() || number.size() > 20) {
    return std::nullopt;
  }
  StreamPosition position;
  for (char c : number) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (position.offset > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    position.offset = position.offset * 10 + digit;
  }
  if (colon != std::string_view::npos) {
    position.epoch = std::string(text.substr(colon + 1));
    if (!validEpoch(position.epoch)) {
      return std::nullopt;
    }
  }
  return position;
}

std::string buildRecoveryFrame(const RecoveryOutcome& outcome) {
  json frame = {{"type", "recovery"}};
  if (outcome.channel.empty()) {
    frame["user"] = outcome.user;
  } else {
    frame["channel"] = outcome.channel;
  }
  frame["recovered"] = outcome.recovered;
  frame["offset"] = outcome.offset;
  frame["epoch"] = outcome.epoch;
  frame["missed"] = outcome.missed;
  if (!outcome.reason.empty()) {
    frame["reason"] = outcome.reason;
  }
  return frame.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string buildConnectedFrame(const std::string& client, const std::string& node,
                                const std::string& user, uint32_t ping_interval_s,
                                const std::vector<std::string>& subscribed,
                                std::optional<uint64_t> id) {
  json frame = {{"type", "connected"},
                {"client", client},
                {"node", node},
                {"user", user},
                {"ping_interval", ping_interval_s},
                {"subscribed", subscribed}};
  appendId(&frame, id);
  return frame.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string buildReplyFrame(std::optional<uint64_t> id, const std::vector<std::string>& channels) {
  json frame = {{"type", "reply"}};
  appendId(&frame, id);
  frame["ok"] = true;
  if (!channels.empty()) {
    frame["channels"] = channels;
  }
  return frame.dump();
}

std::string buildErrorFrame(std::optional<uint64_t> id, ErrorCode code,
                            const std::string& message) {
  json frame = {{"type", "error"}};
  appendId(&frame, id);
  frame["code"] = errorCodeName(code);
  frame["message"] = message;
  // Messages may quote client input: replace invalid UTF-8 instead of failing.
  return frame.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string buildPublishReplyFrame(std::optional<uint64_t> id, uint64_t offset,
                                   const std::string& epoch, bool duplicate) {
  json frame = {{"type", "reply"}};
  appendId(&frame, id);
  frame["ok"] = true;
  frame["offset"] = offset;
  frame["epoch"] = epoch;
  if (duplicate) {
    frame["duplicate"] = true;
  }
  return frame.dump();
}

std::string buildPongFrame(std::optional<uint64_t> id) {
  json frame = {{"type", "pong"}};
  appendId(&frame, id);
  return frame.dump();
}

std::string buildRpcReplyFrame(uint64_t id, std::string_view data) {
  std::string frame = R"({"type":"rpc","id":)" + std::to_string(id) + R"(,"data":)";
  frame.append(data.empty() ? std::string_view("null") : data);
  frame += '}';
  return frame;
}

std::string buildRpcErrorFrame(uint64_t id, const std::string& code, const std::string& message) {
  const json frame = {
      {"type", "rpc"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
  // A backend's message may hold invalid UTF-8: replaced, never thrown on.
  return frame.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace herald::node
