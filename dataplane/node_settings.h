#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/jwt_verifier.h"
#include "common/status.h"
#include "herald/v1/node_link.pb.h"

namespace herald::node {

/**
 * The config a node applies, built once from a ConfigSnapshot and shared read-only by every
 * shard (std::shared_ptr<const NodeSettings>): a new snapshot replaces the pointer, never the
 * contents.
 */
struct NodeSettings {
  uint64_t version = 0;
  std::unordered_map<std::string, herald::v1::Namespace> namespaces;
  herald::v1::Limits limits;
  // Null when no JWT key is configured: every token is then refused.
  JwtVerifierPtr verifier;
  bool allow_anonymous = false;
  uint32_t leeway_seconds = 0;  // also applied to the expiry of open connections
  // Session bans (ConfigSnapshot.bans): user → blocked until, token jti → revoked until
  // (Unix seconds).
  std::unordered_map<std::string, int64_t> blocked_until;
  std::unordered_map<std::string, int64_t> revoked_until;

  // When `user` may connect again (0: now), and whether token `jti` is revoked, at `now`.
  int64_t userBlockedUntil(const std::string& user, int64_t now) const;
  bool tokenRevoked(const std::string& jti, int64_t now) const;

  // The namespace's rules, or the default namespace's for names not configured.
  const herald::v1::Namespace& namespaceFor(std::string_view ns) const;
  // How the stats windows name namespace `ns`: its name when configured, else "(default)"
  // (common/namespace_label.h), as herald-control does.
  std::string_view namespaceLabel(std::string_view ns) const;
};

using NodeSettingsPtr = std::shared_ptr<const NodeSettings>;

// Settings a node runs with before its first snapshot: default namespace public, default limits.
NodeSettingsPtr defaultNodeSettings();

// Validates a snapshot (the node refuses it with a Nack on error and keeps its settings).
// `jwks_keys`: keys fetched from AuthSettings.jwks_url, used beside the snapshot's own (a
// static key keeps its kid).
Result<NodeSettingsPtr> buildNodeSettings(const herald::v1::ConfigSnapshot& snapshot,
                                          const std::vector<JwtKeySpec>& jwks_keys = {});

}  // namespace herald::node
