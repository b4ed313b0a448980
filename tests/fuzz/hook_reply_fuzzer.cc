// libFuzzer target: a backend's HTTP reply to any hook (docs/hooks.md), as herald-node reads
// it before it acts on it or a client sees it. The first byte picks the hook. A backend is
// trusted with its answers, not with the node's memory: any body gets a reply or a clear
// error, and what passes becomes frames that are JSON a client can take.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "dataplane/hooks/hook_json.h"
#include "dataplane/session/client_protocol.h"
#include "dataplane/session/hook_frames.h"

namespace {

using namespace herald::node;

void mustBeAFrame(const std::string& frame) {
  if (herald::jsonNestingDepth(frame) > herald::kMaxJsonDepth ||
      !nlohmann::json::accept(frame.begin(), frame.end())) {
    __builtin_trap();
  }
}

template <typename Reply>
bool parsed(const herald::Result<Reply>& reply) {
  if (!reply.isOk() && reply.status().message().empty()) {
    __builtin_trap();  // every refusal says why
  }
  return reply.isOk();
}

void rpc(std::string_view body) {
  auto reply = parseRpcReplyJson(body);
  if (!parsed(reply) || !checkRpcReply(&reply.value()).isOk()) {
    return;
  }
  mustBeAFrame(reply->has_error()
                   ? buildRpcErrorFrame(7, reply->error().code(), reply->error().message())
                   : buildRpcReplyFrame(7, reply->data()));
}

void subscribe(std::string_view body) {
  auto reply = parseSubscribeReplyJson(body);
  if (!parsed(reply) || !checkSubscribeReply(&reply.value()).isOk()) {
    return;
  }
  if (reply->has_error()) {
    mustBeAFrame(
        buildHookRefusalFrame(7, herald::ErrorCode::kPermissionDenied, "a:b", reply->error()));
  } else if (!reply->info().empty()) {
    mustBeAFrame(buildSubscribeReplyFrame(7, {"a:b"}, {{"a:b", reply->info()}}));
  }
}

void connect(std::string_view body) {
  auto reply = parseConnectReplyJson(body);
  if (!parsed(reply) || !checkConnectReply(&reply.value()).isOk()) {
    return;
  }
  if (reply->has_error()) {
    mustBeAFrame(
        buildHookRefusalFrame(std::nullopt, herald::ErrorCode::kUnauthorized, "", reply->error()));
    return;
  }
  if (reply->user().size() > 256 || reply->channels_size() > 100) {
    __builtin_trap();
  }
  const std::string connected =
      buildConnectedFrame("c", "n", reply->user(), 30,
                          {reply->channels().begin(), reply->channels().end()}, std::nullopt);
  mustBeAFrame(reply->info().empty() ? connected : withRawMember(connected, "info", reply->info()));
}

void publish(std::string_view body) {
  auto reply = parsePublishReplyJson(body);
  if (!parsed(reply) || !checkPublishReply(&reply.value()).isOk()) {
    return;
  }
  if (!reply->data().empty() && !herald::acceptJson(reply->data())) {
    __builtin_trap();  // what replaces a publication's data is JSON
  }
}

void refresh(std::string_view body) {
  auto reply = parseRefreshReplyJson(body);
  if (parsed(reply) && checkRefreshReply(&reply.value()).isOk() && reply->expire_at() < 0) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view body(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  switch (bytes[0] % 5) {
    case 0:
      rpc(body);
      break;
    case 1:
      subscribe(body);
      break;
    case 2:
      connect(body);
      break;
    case 3:
      publish(body);
      break;
    default:
      refresh(body);
      break;
  }
  return 0;
}
