#include "dataplane/hooks/hook_json.h"

#include <nlohmann/json.hpp>

#include "common/hook_settings.h"
#include "common/json_text.h"

namespace herald::node {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxErrorMessageBytes = 1024;

Status badReply(const std::string& why) {
  return Status(ErrorCode::kBadRequest, "the backend's reply " + why);
}

}  // namespace

std::string rpcRequestJson(const herald::v1::RpcHookRequest& request) {
  const auto& c = request.caller();
  const json head = {
      {"caller", {{"user", c.user()}, {"client", c.client()}, {"node", c.node()}, {"ip", c.ip()}}},
      {"method", request.method()}};
  std::string body = head.dump(-1, ' ', false, json::error_handler_t::replace);
  body.pop_back();  // the closing brace: `data` goes in as it is
  body += R"(,"data":)";
  body += request.data().empty() ? std::string("null") : request.data();
  body += '}';
  return body;
}

Result<herald::v1::RpcHookReply> parseRpcReplyJson(std::string_view body) {
  if (body.size() > kMaxHookReplyBytes) {
    return badReply("is larger than " + std::to_string(kMaxHookReplyBytes) + " bytes");
  }
  if (jsonNestingDepth(body) > kMaxJsonDepth || !acceptJson(body)) {
    return badReply("is not JSON (nested at most " + std::to_string(kMaxJsonDepth) + " levels)");
  }
  constexpr std::string_view kNames[] = {"data", "error"};
  std::string_view values[2];
  if (!findMembers(body, kNames, 2, values)) {
    return badReply("is not a JSON object");
  }
  if (values[0].empty() && values[1].empty()) {
    return badReply("has neither 'data' nor 'error'");
  }
  herald::v1::RpcHookReply reply;
  reply.set_data(values[0].empty() ? std::string("null") : std::string(values[0]));
  if (!values[1].empty() && values[1] != "null") {
    const json error = json::parse(values[1].begin(), values[1].end(), nullptr, false);
    if (!error.is_object() || !error.contains("code") || !error["code"].is_string() ||
        (error.contains("message") && !error["message"].is_string())) {
      return badReply("has an 'error' that is not {\"code\": string, \"message\": string}");
    }
    reply.mutable_error()->set_code(error["code"].get<std::string>());
    if (error.contains("message")) {
      reply.mutable_error()->set_message(error["message"].get<std::string>());
    }
  }
  return reply;
}

Status checkRpcReply(herald::v1::RpcHookReply* reply) {
  if (reply->has_error()) {
    auto* error = reply->mutable_error();
    if (!validHookErrorCode(error->code())) {
      error->set_code("backend_error");
    }
    if (error->message().size() > kMaxErrorMessageBytes) {
      error->mutable_message()->resize(kMaxErrorMessageBytes);
    }
    reply->clear_data();
    return Status::ok();
  }
  if (reply->data().empty()) {
    reply->set_data("null");
  }
  if (reply->data().size() > kMaxHookReplyBytes) {
    return badReply("data is larger than " + std::to_string(kMaxHookReplyBytes) + " bytes");
  }
  // One level less than a client frame may have: the reply frame wraps it.
  if (jsonNestingDepth(reply->data()) > kMaxJsonDepth - 1 ||
      !acceptJson(reply->data(), kMaxJsonDepth - 1)) {
    return badReply("data is not JSON (nested at most " + std::to_string(kMaxJsonDepth - 1) +
                    " levels)");
  }
  return Status::ok();
}

}  // namespace herald::node
