// libFuzzer target: everything a client controls before a frame reaches routing — the JSON
// frame parser, the ?query decoder, channel-name validation and the subscribe permission
// checks. Any crash, leak, sanitizer report or broken invariant is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/channel_name.h"
#include "common/json_text.h"
#include "dataplane/session/client_protocol.h"
#include "dataplane/session/permissions.h"

namespace {

herald::TokenClaims fuzzClaims(std::string_view input) {
  herald::TokenClaims claims;
  claims.subject = std::string(input.substr(0, 8));
  claims.channels = {std::string(input.substr(0, 16)), "room:*", "intent:42"};
  claims.claims = {{"address", std::string(input.substr(0, 12))}};
  return claims;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  herald::node::ParsedFrame parsed = herald::node::parseClientFrame(input);
  if (!parsed.status.isOk() && parsed.status.message().empty()) {
    __builtin_trap();  // every refusal must say why
  }
  if (parsed.status.isOk() && parsed.command.type == herald::node::CommandType::kPublish &&
      (!nlohmann::json::accept(parsed.command.data) ||
       herald::jsonNestingDepth(parsed.command.data) >= herald::kMaxJsonDepth)) {
    __builtin_trap();  // forwarded data is JSON, shallower than the frame that carried it
  }
  // Before authentication only `authenticate` is read; everything else is refused.
  const auto early =
      herald::node::parseClientFrame(input, herald::node::FrameScope::kAuthenticateOnly);
  if (early.status.isOk() && early.command.type != herald::node::CommandType::kAuthenticate) {
    __builtin_trap();
  }
  if (parsed.id != herald::node::peekFrameId(input) && !parsed.too_deep) {
    __builtin_trap();  // the id a rate-limited frame is answered with is the frame's id
  }

  // The query string path: ?subscribe=...&token=...
  auto subscribe = herald::node::queryParam(input, "subscribe");
  std::vector<std::string> channels = parsed.command.channels;
  if (subscribe) {
    for (auto& c : herald::node::splitChannelList(*subscribe)) {
      channels.push_back(std::move(c));
    }
  }

  const herald::TokenClaims claims = fuzzClaims(input);
  for (const auto rule :
       {herald::v1::SUBSCRIBE_RULE_PUBLIC, herald::v1::SUBSCRIBE_RULE_AUTHENTICATED,
        herald::v1::SUBSCRIBE_RULE_OWNER, herald::v1::SUBSCRIBE_RULE_GRANTED}) {
    herald::v1::Namespace ns;
    ns.set_subscribe_rule(rule);
    if (rule == herald::v1::SUBSCRIBE_RULE_OWNER && size % 2 == 0) {
      ns.set_owner_claim("address");
    }
    for (const auto& channel : channels) {
      auto name = herald::parseChannelName(channel);
      if (!name.isOk()) {
        continue;
      }
      // Invariant: a validated name splits back into itself.
      const std::string joined = name->ns.empty()
                                     ? std::string(name->rest)
                                     : std::string(name->ns) + ":" + std::string(name->rest);
      if (joined != channel) {
        __builtin_trap();
      }
      (void)herald::node::checkSubscribe(ns, name.value(), channel, &claims);
      if (herald::node::checkSubscribe(ns, name.value(), channel, nullptr).isOk() &&
          rule != herald::v1::SUBSCRIBE_RULE_PUBLIC) {
        __builtin_trap();  // an anonymous connection passed a rule that needs a token
      }
    }
  }
  return 0;
}
