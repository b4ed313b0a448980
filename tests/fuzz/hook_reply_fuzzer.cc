// libFuzzer target: a backend's HTTP reply to the rpc hook (docs/hooks.md), as herald-node
// reads it before a client sees it. A backend is trusted with its answers, not with the
// node's memory: any body gets a reply or a clear error, and what passes is JSON a client
// can take.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_text.h"
#include "dataplane/hooks/hook_json.h"
#include "dataplane/session/client_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(bytes), size);
  auto reply = herald::node::parseRpcReplyJson(body);
  if (!reply.isOk()) {
    if (reply.status().message().empty()) {
      __builtin_trap();  // every refusal says why
    }
    return 0;
  }
  if (!herald::node::checkRpcReply(&reply.value()).isOk()) {
    return 0;
  }
  // Invariant: the frame a client gets is one JSON object, nested within the bound.
  const std::string frame =
      reply->has_error()
          ? herald::node::buildRpcErrorFrame(7, reply->error().code(), reply->error().message())
          : herald::node::buildRpcReplyFrame(7, reply->data());
  if (herald::jsonNestingDepth(frame) > herald::kMaxJsonDepth ||
      !nlohmann::json::accept(frame.begin(), frame.end())) {
    __builtin_trap();
  }
  return 0;
}
