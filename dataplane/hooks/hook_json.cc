#include "dataplane/hooks/hook_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

#include "common/hook_settings.h"
#include "common/json_text.h"

namespace herald::node {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxErrorMessageBytes = 1024;

Status badReply(const std::string& why) {
  return Status(ErrorCode::kBadRequest, "the backend's reply " + why);
}

constexpr size_t kMaxUserBytes = 256;
constexpr size_t kMaxConnectChannels = 100;
constexpr uint32_t kMaxTtlSeconds = 3600;

json callerJson(const herald::v1::HookCaller& c) {
  return {{"user", c.user()}, {"client", c.client()}, {"node", c.node()}, {"ip", c.ip()}};
}

// `head` as JSON with one more member whose value is JSON text spliced as it is.
std::string withRawMember(const json& head, const char* name, const std::string& raw) {
  std::string body = head.dump(-1, ' ', false, json::error_handler_t::replace);
  body.pop_back();  // the closing brace (head is never empty)
  body += ",\"";
  body += name;
  body += "\":";
  body += raw.empty() ? std::string("null") : raw;
  body += '}';
  return body;
}

// A reply body's top-level members `names` as raw text (empty: absent), once the body is
// known to be a bounded, valid JSON object.
Status replyMembers(std::string_view body, const std::string_view* names, size_t count,
                    std::string_view* values) {
  if (body.size() > kMaxHookReplyBytes) {
    return badReply("is larger than " + std::to_string(kMaxHookReplyBytes) + " bytes");
  }
  if (jsonNestingDepth(body) > kMaxJsonDepth || !acceptJson(body)) {
    return badReply("is not JSON (nested at most " + std::to_string(kMaxJsonDepth) + " levels)");
  }
  if (!findMembers(body, names, count, values)) {
    return badReply("is not a JSON object");
  }
  return Status::ok();
}

// `{"code": string, "message": string}` into `error` (null or absent: no error).
Status readError(std::string_view raw, herald::v1::HookError* error, bool* present) {
  *present = false;
  if (raw.empty() || raw == "null") {
    return Status::ok();
  }
  const json doc = json::parse(raw.begin(), raw.end(), nullptr, false);
  if (!doc.is_object() || !doc.contains("code") || !doc["code"].is_string() ||
      (doc.contains("message") && !doc["message"].is_string())) {
    return badReply("has an 'error' that is not {\"code\": string, \"message\": string}");
  }
  error->set_code(doc["code"].get<std::string>());
  if (doc.contains("message")) {
    error->set_message(doc["message"].get<std::string>());
  }
  *present = true;
  return Status::ok();
}

// A whole number member (absent or null: 0); not ok for anything else or a negative one.
Status readCount(std::string_view raw, const char* name, int64_t* out) {
  *out = 0;
  if (raw.empty() || raw == "null") {
    return Status::ok();
  }
  const json doc = json::parse(raw.begin(), raw.end(), nullptr, false);
  if (!doc.is_number_integer() || doc.get<int64_t>() < 0) {
    return badReply(std::string("has a '") + name + "' that is not a whole number >= 0");
  }
  *out = doc.get<int64_t>();
  return Status::ok();
}

// A reply's `error` member into the reply (absent or null: none).
template <typename Reply>
Status readErrorInto(std::string_view raw, Reply* reply) {
  bool present = false;
  Status s = readError(raw, reply->mutable_error(), &present);
  if (!present) {
    reply->clear_error();
  }
  return s;
}

std::string rawOrEmpty(std::string_view raw) {
  return raw == "null" ? std::string() : std::string(raw);
}

// An error's code as clients may see it, and its message cut to size.
void tidyError(herald::v1::HookError* error) {
  if (!validHookErrorCode(error->code())) {
    error->set_code("backend_error");
  }
  if (error->message().size() > kMaxErrorMessageBytes) {
    error->mutable_message()->resize(kMaxErrorMessageBytes);
  }
}

// JSON from the backend that a client frame will wrap `wraps` levels deep (`what` names it).
Status checkJsonValue(const std::string& value, const char* what, size_t wraps = 1) {
  const size_t max_depth = kMaxJsonDepth - wraps;
  if (value.size() > kMaxHookReplyBytes) {
    return badReply(std::string(what) + " is larger than " + std::to_string(kMaxHookReplyBytes) +
                    " bytes");
  }
  if (jsonNestingDepth(value) > max_depth || !acceptJson(value, max_depth)) {
    return badReply(std::string(what) + " is not JSON (nested at most " +
                    std::to_string(max_depth) + " levels)");
  }
  return Status::ok();
}

}  // namespace

std::string rpcRequestJson(const herald::v1::RpcHookRequest& request) {
  const json head = {{"caller", callerJson(request.caller())}, {"method", request.method()}};
  return withRawMember(head, "data", request.data());
}

Result<herald::v1::RpcHookReply> parseRpcReplyJson(std::string_view body) {
  constexpr std::string_view kNames[] = {"data", "error"};
  std::string_view values[2];
  if (Status s = replyMembers(body, kNames, 2, values); !s.isOk()) {
    return s;
  }
  if (values[0].empty() && values[1].empty()) {
    return badReply("has neither 'data' nor 'error'");
  }
  herald::v1::RpcHookReply reply;
  reply.set_data(values[0].empty() ? std::string("null") : std::string(values[0]));
  if (Status s = readErrorInto(values[1], &reply); !s.isOk()) {
    return s;
  }
  return reply;
}

Status checkRpcReply(herald::v1::RpcHookReply* reply) {
  if (reply->has_error()) {
    tidyError(reply->mutable_error());
    reply->clear_data();
    return Status::ok();
  }
  if (reply->data().empty()) {
    reply->set_data("null");
  }
  // One level less than a client frame may have: the reply frame wraps it.
  return checkJsonValue(reply->data(), "data");
}

std::string connectRequestJson(const herald::v1::ConnectHookRequest& request) {
  json headers = json::object();
  for (const auto& header : request.headers()) {
    headers[header.name()] = header.value();
  }
  const json doc = {{"client", request.client()}, {"node", request.node()},
                    {"ip", request.ip()},         {"query", request.query()},
                    {"headers", headers},         {"user", request.user()}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string subscribeRequestJson(const herald::v1::SubscribeHookRequest& request) {
  const json doc = {{"caller", callerJson(request.caller())}, {"channel", request.channel()}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string publishRequestJson(const herald::v1::PublishHookRequest& request) {
  json head = {{"caller", callerJson(request.caller())}, {"channel", request.channel()}};
  if (!request.tags().empty()) {  // so the backend can refuse tags a client should not set
    json tags = json::object();
    for (const auto& [key, value] : request.tags()) {
      tags[key] = value;
    }
    head["tags"] = std::move(tags);
  }
  return withRawMember(head, "data", request.data());
}

std::string refreshRequestJson(const herald::v1::RefreshHookRequest& request) {
  const json doc = {{"caller", callerJson(request.caller())}, {"expire_at", request.expire_at()}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<herald::v1::ConnectHookReply> parseConnectReplyJson(std::string_view body) {
  constexpr std::string_view kNames[] = {"error", "user", "expire_at", "channels", "info"};
  std::string_view v[5];
  if (Status s = replyMembers(body, kNames, 5, v); !s.isOk()) {
    return s;
  }
  herald::v1::ConnectHookReply reply;
  if (Status s = readErrorInto(v[0], &reply); !s.isOk()) {
    return s;
  }
  if (!v[1].empty() && v[1] != "null") {
    const json user = json::parse(v[1].begin(), v[1].end(), nullptr, false);
    if (!user.is_string()) {
      return badReply("has a 'user' that is not a string");
    }
    reply.set_user(user.get<std::string>());
  }
  int64_t expire_at = 0;
  if (Status s = readCount(v[2], "expire_at", &expire_at); !s.isOk()) {
    return s;
  }
  reply.set_expire_at(expire_at);
  if (!v[3].empty() && v[3] != "null") {
    std::vector<std::string_view> channels;
    if (!arrayElements(v[3], &channels)) {
      return badReply("has 'channels' that is not an array of strings");
    }
    for (const auto& raw : channels) {
      const json channel = json::parse(raw.begin(), raw.end(), nullptr, false);
      if (!channel.is_string()) {
        return badReply("has 'channels' that is not an array of strings");
      }
      reply.add_channels(channel.get<std::string>());
    }
  }
  reply.set_info(rawOrEmpty(v[4]));
  return reply;
}

Result<herald::v1::SubscribeHookReply> parseSubscribeReplyJson(std::string_view body) {
  constexpr std::string_view kNames[] = {"error", "info", "ttl_seconds"};
  std::string_view v[3];
  if (Status s = replyMembers(body, kNames, 3, v); !s.isOk()) {
    return s;
  }
  herald::v1::SubscribeHookReply reply;
  if (Status s = readErrorInto(v[0], &reply); !s.isOk()) {
    return s;
  }
  reply.set_info(rawOrEmpty(v[1]));
  int64_t ttl = 0;
  if (Status s = readCount(v[2], "ttl_seconds", &ttl); !s.isOk()) {
    return s;
  }
  reply.set_ttl_seconds(static_cast<uint32_t>(std::min<int64_t>(ttl, kMaxTtlSeconds)));
  return reply;
}

Result<herald::v1::PublishHookReply> parsePublishReplyJson(std::string_view body) {
  constexpr std::string_view kNames[] = {"error", "data"};
  std::string_view v[2];
  if (Status s = replyMembers(body, kNames, 2, v); !s.isOk()) {
    return s;
  }
  herald::v1::PublishHookReply reply;
  if (Status s = readErrorInto(v[0], &reply); !s.isOk()) {
    return s;
  }
  reply.set_data(std::string(v[1]));  // "null" replaces the data with null
  return reply;
}

Result<herald::v1::RefreshHookReply> parseRefreshReplyJson(std::string_view body) {
  constexpr std::string_view kNames[] = {"error", "expire_at"};
  std::string_view v[2];
  if (Status s = replyMembers(body, kNames, 2, v); !s.isOk()) {
    return s;
  }
  herald::v1::RefreshHookReply reply;
  if (Status s = readErrorInto(v[0], &reply); !s.isOk()) {
    return s;
  }
  int64_t expire_at = 0;
  if (Status s = readCount(v[1], "expire_at", &expire_at); !s.isOk()) {
    return s;
  }
  reply.set_expire_at(expire_at);
  return reply;
}

Status checkConnectReply(herald::v1::ConnectHookReply* reply) {
  if (reply->has_error()) {
    herald::v1::HookError error = std::move(*reply->mutable_error());
    tidyError(&error);
    reply->Clear();
    *reply->mutable_error() = std::move(error);
    return Status::ok();
  }
  if (reply->user().size() > kMaxUserBytes) {
    return badReply("user is longer than " + std::to_string(kMaxUserBytes) + " bytes");
  }
  if (static_cast<size_t>(reply->channels_size()) > kMaxConnectChannels) {
    return badReply("names more than " + std::to_string(kMaxConnectChannels) + " channels");
  }
  if (reply->expire_at() < 0) {
    return badReply("expire_at is negative");
  }
  return reply->info().empty() ? Status::ok() : checkJsonValue(reply->info(), "info");
}

Status checkSubscribeReply(herald::v1::SubscribeHookReply* reply) {
  if (reply->has_error()) {
    tidyError(reply->mutable_error());
    reply->clear_info();
    return Status::ok();
  }
  reply->set_ttl_seconds(std::min(reply->ttl_seconds(), kMaxTtlSeconds));
  // The reply frame holds it in `info` by channel: two levels.
  return reply->info().empty() ? Status::ok() : checkJsonValue(reply->info(), "info", 2);
}

Status checkPublishReply(herald::v1::PublishHookReply* reply) {
  if (reply->has_error()) {
    tidyError(reply->mutable_error());
    reply->clear_data();
    return Status::ok();
  }
  return reply->data().empty() ? Status::ok() : checkJsonValue(reply->data(), "data");
}

Status checkRefreshReply(herald::v1::RefreshHookReply* reply) {
  if (reply->has_error()) {
    tidyError(reply->mutable_error());
    reply->clear_expire_at();
    return Status::ok();
  }
  return reply->expire_at() < 0 ? badReply("expire_at is negative") : Status::ok();
}

}  // namespace herald::node
