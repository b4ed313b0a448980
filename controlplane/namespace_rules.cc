#include "controlplane/namespace_rules.h"

#include <set>

#include "common/channel_name.h"
#include "common/conflation.h"
#include "common/hook_settings.h"
#include "common/jwt_verifier.h"

namespace herald::control {

Status validateNamespace(const herald::v1::Namespace& ns) {
  Status name = validateNamespaceName(ns.name());
  if (!name.isOk()) {
    return name;
  }
  if (!herald::v1::SubscribeRule_IsValid(ns.subscribe_rule())) {
    return Status(ErrorCode::kBadRequest, "subscribe_rule is not a known rule");
  }
  if (!herald::v1::SlowConsumerPolicy_IsValid(ns.slow_consumer_policy())) {
    return Status(ErrorCode::kBadRequest, "slow_consumer_policy is not a known policy");
  }
  if (!ns.owner_claim().empty() && ns.subscribe_rule() != herald::v1::SUBSCRIBE_RULE_OWNER) {
    return Status(ErrorCode::kBadRequest, "owner_claim is only meaningful with the owner rule");
  }
  const bool hooked = ns.subscribe_rule() == herald::v1::SUBSCRIBE_RULE_HOOK;
  if (hooked != !ns.subscribe_hook().empty()) {
    return Status(ErrorCode::kBadRequest,
                  hooked ? "the hook rule needs subscribe_hook (a hook endpoint's name)"
                         : "subscribe_hook is only meaningful with the hook rule");
  }
  if (!ns.publish_hook().empty() && !ns.allow_client_publish()) {
    return Status(ErrorCode::kBadRequest, "publish_hook needs allow_client_publish");
  }
  if (ns.subscribe_hook().size() > 64 || ns.publish_hook().size() > 64) {
    return Status(ErrorCode::kBadRequest, "a hook endpoint's name is at most 64 bytes");
  }
  if (ns.history_size() > 1000000) {
    return Status(ErrorCode::kBadRequest, "history_size above 1000000");
  }
  if (ns.conflate_ms() > kMaxConflateMs) {
    return Status(ErrorCode::kBadRequest,
                  "conflate_ms above " + std::to_string(kMaxConflateMs) + " (one minute)");
  }
  if (ns.smooth_ms() > kMaxConflateMs) {
    return Status(ErrorCode::kBadRequest,
                  "smooth_ms above " + std::to_string(kMaxConflateMs) + " (one minute)");
  }
  if (ns.smooth_ms() > 0 && ns.conflate_ms() > 0) {
    return Status(
        ErrorCode::kBadRequest,
        "conflate_ms and smooth_ms: choose one (conflation drops what smoothing spreads)");
  }
  return Status::ok();
}

Status validateLimits(const herald::v1::Limits& limits) {
  if (limits.max_inbound_frame_bytes() != 0 && limits.max_inbound_frame_bytes() < 256) {
    return Status(ErrorCode::kBadRequest, "max_inbound_frame_bytes below 256");
  }
  if (limits.max_inbound_frame_bytes() > (64u << 20)) {
    return Status(ErrorCode::kBadRequest, "max_inbound_frame_bytes above 64 MiB");
  }
  if (!herald::v1::SlowConsumerPolicy_IsValid(limits.slow_consumer_policy())) {
    return Status(ErrorCode::kBadRequest, "slow_consumer_policy is not a known policy");
  }
  if (limits.user_history_size() > 100000) {
    return Status(ErrorCode::kBadRequest, "user_history_size above 100000");
  }
  for (const auto& origin : limits.allowed_origins()) {
    if (origin.empty() || origin.size() > 255) {
      return Status(ErrorCode::kBadRequest, "allowed_origins entries must be 1..255 bytes");
    }
  }
  return Status::ok();
}

Status validateAuthSettings(const herald::v1::AuthSettings& auth) {
  if (auth.keys_size() > 16) {
    return Status(ErrorCode::kBadRequest, "at most 16 JWT keys");
  }
  std::set<std::string> kids;
  for (int i = 0; i < auth.keys_size(); ++i) {
    const auto& key = auth.keys(i);
    const std::string where = "keys[" + std::to_string(i) + "]";
    JwtKeySpec spec;
    spec.kid = key.kid();
    if (!parseJwtAlgorithm(key.algorithm(), &spec.algorithm)) {
      return Status(ErrorCode::kBadRequest, where +
                                                ": algorithm must be HS256, RS256 or ES256 (got '" +
                                                key.algorithm().substr(0, 16) + "')");
    }
    const bool hmac = spec.algorithm == JwtAlgorithm::kHS256;
    if (hmac ? !key.public_key_pem().empty() : !key.secret().empty()) {
      return Status(ErrorCode::kBadRequest,
                    where + (hmac ? ": HS256 takes `secret`, not `public_key_pem`"
                                  : ": RS256/ES256 take `public_key_pem`, not `secret`"));
    }
    spec.material = hmac ? key.secret() : key.public_key_pem();
    Status s = validateJwtKey(spec);
    if (!s.isOk()) {
      return Status(ErrorCode::kBadRequest, where + ": " + s.message());
    }
    if (!kids.insert(key.kid()).second) {
      return Status(ErrorCode::kBadRequest, where + ": kid '" + key.kid() + "' used twice");
    }
  }
  if (auth.leeway_seconds() > 600) {
    return Status(ErrorCode::kBadRequest, "leeway_seconds above 600");
  }
  if (!auth.jwks_url().empty()) {
    auto target = auth.jwks_url().size() > 2048
                      ? Result<HookTarget>(Status(ErrorCode::kBadRequest, "longer than 2048"))
                      : parseHookUrl(auth.jwks_url());
    if (!target.isOk() || target->kind == HookTarget::Kind::kGrpc) {
      return Status(ErrorCode::kBadRequest,
                    "jwks_url must be http://HOST[:PORT]/PATH or https://... (" +
                        (target.isOk() ? std::string("not grpc") : target.status().message()) +
                        ")");
    }
    // Whoever can change the keys in transit can sign tokens for anyone: plain HTTP only to
    // this host.
    const std::string& host = target->host;
    const bool loopback = host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
    if (target->kind == HookTarget::Kind::kHttp && !loopback) {
      return Status(ErrorCode::kBadRequest,
                    "jwks_url must be https:// (http:// only to a loopback address)");
    }
  }
  if (auth.jwks_refresh_seconds() > 86400) {
    return Status(ErrorCode::kBadRequest, "jwks_refresh_seconds above 86400");
  }
  return Status::ok();
}

herald::v1::AuthSettings redactAuthSettings(const herald::v1::AuthSettings& auth) {
  herald::v1::AuthSettings out = auth;
  for (auto& key : *out.mutable_keys()) {
    if (!key.secret().empty()) {
      key.set_secret("<redacted>");
    }
  }
  return out;
}

herald::v1::Limits withLimitDefaults(const herald::v1::Limits& in) {
  herald::v1::Limits l = in;
  auto def = [](uint32_t value, uint32_t fallback) { return value == 0 ? fallback : value; };
  l.set_max_connections_per_node(def(l.max_connections_per_node(), 10000));
  l.set_max_connections_per_user(def(l.max_connections_per_user(), 10));
  l.set_max_subscriptions_per_connection(def(l.max_subscriptions_per_connection(), 50));
  l.set_max_subscriptions_per_namespace(def(l.max_subscriptions_per_namespace(), 50));
  l.set_client_messages_per_minute(def(l.client_messages_per_minute(), 60));
  l.set_client_message_burst(def(l.client_message_burst(), 10));
  l.set_max_inbound_frame_bytes(def(l.max_inbound_frame_bytes(), 65536));
  l.set_new_connections_per_ip_per_second(def(l.new_connections_per_ip_per_second(), 100));
  l.set_failed_auth_per_ip_per_minute(def(l.failed_auth_per_ip_per_minute(), 30));
  l.set_outbound_queue_messages(def(l.outbound_queue_messages(), 1024));
  l.set_outbound_queue_bytes(def(l.outbound_queue_bytes(), 1 << 20));
  if (l.slow_consumer_policy() == herald::v1::SLOW_CONSUMER_POLICY_UNSPECIFIED) {
    l.set_slow_consumer_policy(herald::v1::SLOW_CONSUMER_POLICY_DROP);
  }
  l.set_user_history_size(def(l.user_history_size(), 100));
  l.set_user_history_ttl_seconds(def(l.user_history_ttl_seconds(), 600));
  return l;
}

bool parseSubscribeRule(const std::string& text, herald::v1::SubscribeRule* out) {
  if (text == "public") {
    *out = herald::v1::SUBSCRIBE_RULE_PUBLIC;
  } else if (text == "authenticated") {
    *out = herald::v1::SUBSCRIBE_RULE_AUTHENTICATED;
  } else if (text == "owner") {
    *out = herald::v1::SUBSCRIBE_RULE_OWNER;
  } else if (text == "granted") {
    *out = herald::v1::SUBSCRIBE_RULE_GRANTED;
  } else if (text == "hook") {
    *out = herald::v1::SUBSCRIBE_RULE_HOOK;
  } else {
    return false;
  }
  return true;
}

const herald::v1::Namespace* namespaceFor(const herald::v1::ConfigSnapshot& config,
                                          std::string_view ns) {
  const herald::v1::Namespace* fallback = nullptr;
  const herald::v1::Namespace* match = nullptr;
  for (const auto& candidate : config.namespaces()) {
    if (candidate.name() == ns) {
      match = &candidate;
      break;
    }
    if (candidate.name().empty()) {
      fallback = &candidate;
    }
  }
  return match != nullptr ? match : fallback;
}

HistoryPolicy historyPolicyFor(const herald::v1::ConfigSnapshot& config, std::string_view ns) {
  const herald::v1::Namespace* chosen = namespaceFor(config, ns);
  HistoryPolicy policy;
  if (chosen != nullptr) {
    policy.size = chosen->history_size();
    policy.ttl_ms = static_cast<int64_t>(chosen->history_ttl_seconds()) * 1000;
  }
  return policy;
}

HistoryPolicy userHistoryPolicy(const herald::v1::Limits& limits) {
  HistoryPolicy policy;
  policy.size = limits.user_history_size();
  policy.ttl_ms = static_cast<int64_t>(limits.user_history_ttl_seconds()) * 1000;
  return policy;
}

bool parseSlowConsumerPolicy(const std::string& text, herald::v1::SlowConsumerPolicy* out) {
  if (text == "drop") {
    *out = herald::v1::SLOW_CONSUMER_POLICY_DROP;
  } else if (text == "disconnect") {
    *out = herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT;
  } else {
    return false;
  }
  return true;
}

const char* slowConsumerPolicyName(herald::v1::SlowConsumerPolicy policy) {
  switch (policy) {
    case herald::v1::SLOW_CONSUMER_POLICY_DROP:
      return "drop";
    case herald::v1::SLOW_CONSUMER_POLICY_DISCONNECT:
      return "disconnect";
    default:
      return "";
  }
}

const char* subscribeRuleName(herald::v1::SubscribeRule rule) {
  switch (rule) {
    case herald::v1::SUBSCRIBE_RULE_AUTHENTICATED:
      return "authenticated";
    case herald::v1::SUBSCRIBE_RULE_OWNER:
      return "owner";
    case herald::v1::SUBSCRIBE_RULE_GRANTED:
      return "granted";
    case herald::v1::SUBSCRIBE_RULE_HOOK:
      return "hook";
    default:
      return "public";
  }
}

}  // namespace herald::control
