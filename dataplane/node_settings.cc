#include "dataplane/node_settings.h"

#include <algorithm>

#include "common/channel_name.h"
#include "common/hook_settings.h"
#include "common/namespace_label.h"

namespace herald::node {
namespace {

herald::v1::Namespace builtInDefaultNamespace() {
  herald::v1::Namespace ns;
  ns.set_subscribe_rule(herald::v1::SUBSCRIBE_RULE_PUBLIC);
  return ns;
}

herald::v1::Limits defaultLimits() {
  herald::v1::Limits l;
  l.set_max_connections_per_node(10000);
  l.set_max_connections_per_user(10);
  l.set_max_subscriptions_per_connection(50);
  l.set_max_subscriptions_per_namespace(50);
  l.set_client_messages_per_minute(60);
  l.set_client_message_burst(10);
  l.set_max_inbound_frame_bytes(65536);
  l.set_new_connections_per_ip_per_second(100);
  l.set_failed_auth_per_ip_per_minute(30);
  l.set_outbound_queue_messages(1024);
  l.set_outbound_queue_bytes(1 << 20);
  l.set_slow_consumer_policy(herald::v1::SLOW_CONSUMER_POLICY_DROP);
  l.set_user_history_size(100);
  l.set_user_history_ttl_seconds(600);
  return l;
}

}  // namespace

std::string_view NodeSettings::namespaceLabel(std::string_view ns) const {
  if (!ns.empty()) {
    if (auto it = namespaces.find(std::string(ns)); it != namespaces.end()) {
      return it->first;
    }
  }
  return kDefaultNamespaceLabel;
}

const herald::v1::Namespace& NodeSettings::namespaceFor(std::string_view ns) const {
  auto it = namespaces.find(std::string(ns));
  if (it != namespaces.end()) {
    return it->second;
  }
  it = namespaces.find("");
  if (it != namespaces.end()) {
    return it->second;
  }
  static const herald::v1::Namespace kDefault = builtInDefaultNamespace();
  return kDefault;
}

NodeSettingsPtr defaultNodeSettings() {
  auto s = std::make_shared<NodeSettings>();
  s->limits = defaultLimits();
  return s;
}

int64_t NodeSettings::userBlockedUntil(const std::string& user, int64_t now) const {
  auto it = blocked_until.find(user);
  return it != blocked_until.end() && it->second > now ? it->second : 0;
}

bool NodeSettings::tokenRevoked(const std::string& jti, int64_t now) const {
  auto it = revoked_until.find(jti);
  return it != revoked_until.end() && it->second > now;
}

Result<NodeSettingsPtr> buildNodeSettings(const herald::v1::ConfigSnapshot& snapshot,
                                          const std::vector<JwtKeySpec>& jwks_keys) {
  auto s = std::make_shared<NodeSettings>();
  s->version = snapshot.version();
  for (const auto& ns : snapshot.namespaces()) {
    Status name = validateNamespaceName(ns.name());
    if (!name.isOk()) {
      return Status(ErrorCode::kBadRequest, "namespace '" + ns.name() + "': " + name.message());
    }
    if (!herald::v1::SubscribeRule_IsValid(ns.subscribe_rule())) {
      return Status(ErrorCode::kBadRequest, "namespace '" + ns.name() + "': unknown rule");
    }
    if (!s->namespaces.emplace(ns.name(), ns).second) {
      return Status(ErrorCode::kBadRequest, "namespace '" + ns.name() + "' appears twice");
    }
  }
  s->limits = snapshot.limits();
  for (const auto& block : snapshot.bans().users()) {
    auto& until = s->blocked_until[block.user()];
    until = std::max(until, block.until());
  }
  for (const auto& token : snapshot.bans().tokens()) {
    auto& until = s->revoked_until[token.jti()];
    until = std::max(until, token.until());
  }
  if (Status hooks = validateHookSettings(snapshot.hooks()); !hooks.isOk()) {
    return Status(ErrorCode::kBadRequest, "hooks: " + hooks.message());
  }
  const auto& auth = snapshot.auth();
  s->allow_anonymous = auth.allow_anonymous();
  s->leeway_seconds = auth.leeway_seconds();
  JwtPolicy policy;
  policy.issuer = auth.issuer();
  policy.audience = auth.audience();
  policy.leeway_seconds = auth.leeway_seconds();
  for (const auto& key : auth.keys()) {
    JwtKeySpec spec;
    spec.kid = key.kid();
    if (!parseJwtAlgorithm(key.algorithm(), &spec.algorithm)) {
      return Status(ErrorCode::kBadRequest, "JWT key '" + key.kid() + "': unknown algorithm");
    }
    spec.material = spec.algorithm == JwtAlgorithm::kHS256 ? key.secret() : key.public_key_pem();
    Status valid = validateJwtKey(spec);
    if (!valid.isOk()) {
      return Status(ErrorCode::kBadRequest, "JWT key '" + key.kid() + "': " + valid.message());
    }
    policy.keys.push_back(std::move(spec));
  }
  for (const auto& key : jwks_keys) {
    const bool taken = std::any_of(policy.keys.begin(), policy.keys.end(),
                                   [&](const JwtKeySpec& have) { return have.kid == key.kid; });
    if (!taken) {
      policy.keys.push_back(key);
    }
  }
  if (!policy.keys.empty()) {
    s->verifier = makeJwtVerifier(std::move(policy));
  }
  const auto& l = s->limits;
  if (l.max_connections_per_node() == 0 || l.max_subscriptions_per_connection() == 0 ||
      l.max_inbound_frame_bytes() < 256 || l.outbound_queue_bytes() == 0) {
    return Status(ErrorCode::kBadRequest,
                  "limits incomplete: max_connections_per_node, "
                  "max_subscriptions_per_connection, outbound_queue_bytes must be set and "
                  "max_inbound_frame_bytes at least 256");
  }
  return NodeSettingsPtr(std::move(s));
}

}  // namespace herald::node
