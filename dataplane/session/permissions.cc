#include "dataplane/session/permissions.h"

#include <cctype>

namespace herald::node {
namespace {

bool looksHex(const std::string& s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
    return false;
  }
  for (size_t i = 2; i < s.size(); ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

Status denied(const std::string& channel, const std::string& why) {
  return Status(ErrorCode::kPermissionDenied, "channel '" + channel + "': " + why);
}

}  // namespace

bool sameOwner(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (!looksHex(a) || !looksHex(b)) {
    return a == b;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Status checkSubscribe(const herald::v1::Namespace& ns, const ChannelName& name,
                      const std::string& channel, const TokenClaims* claims) {
  switch (ns.subscribe_rule()) {
    case herald::v1::SUBSCRIBE_RULE_UNSPECIFIED:
    case herald::v1::SUBSCRIBE_RULE_PUBLIC:
      return Status::ok();
    case herald::v1::SUBSCRIBE_RULE_AUTHENTICATED:
      return claims != nullptr ? Status::ok()
                               : denied(channel, "needs an authenticated connection");
    case herald::v1::SUBSCRIBE_RULE_OWNER: {
      if (claims == nullptr) {
        return denied(channel, "needs an authenticated connection");
      }
      std::string owner = claims->subject;
      if (!ns.owner_claim().empty()) {
        auto it = claims->claims.find(ns.owner_claim());
        if (it == claims->claims.end() || !it->is_string()) {
          return denied(channel, "token has no '" + ns.owner_claim() + "' claim");
        }
        owner = it->get<std::string>();
      }
      if (!sameOwner(std::string(name.rest), owner)) {
        return denied(channel, "only its owner may subscribe");
      }
      return Status::ok();
    }
    case herald::v1::SUBSCRIBE_RULE_GRANTED:
      if (claims == nullptr) {
        return denied(channel, "needs an authenticated connection");
      }
      for (const auto& grant : claims->channels) {
        if (grant == channel) {
          return Status::ok();
        }
        if (!grant.empty() && grant.back() == '*' &&
            channel.compare(0, grant.size() - 1, grant, 0, grant.size() - 1) == 0) {
          return Status::ok();
        }
      }
      return denied(channel, "not granted by the token's channels claim");
    case herald::v1::SUBSCRIBE_RULE_HOOK:
      // Decided by the backend per subscription (session_hooks.cc), never by a token.
      return denied(channel, "only a subscription the backend's subscribe hook allowed");
    default:
      return denied(channel, "unknown subscribe rule");
  }
}

}  // namespace herald::node
