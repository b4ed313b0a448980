#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "herald/v1/control.pb.h"
#include "herald/v1/node_link.pb.h"

namespace herald::control {

using ConfigSnapshotPtr = std::shared_ptr<const herald::v1::ConfigSnapshot>;

/**
 * Source of truth for namespaces and limits. Every successful change bumps the version,
 * persists, and calls the change listener with the new snapshot (outside the store's lock).
 * Thread-safe.
 */
class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  virtual Result<herald::v1::Namespace> createNamespace(const herald::v1::Namespace& ns) = 0;
  virtual Result<herald::v1::Namespace> updateNamespace(const herald::v1::Namespace& ns) = 0;
  virtual Status deleteNamespace(const std::string& name) = 0;
  virtual Result<herald::v1::Namespace> getNamespace(const std::string& name) const = 0;
  virtual std::vector<herald::v1::Namespace> listNamespaces() const = 0;

  virtual herald::v1::Limits limits() const = 0;  // with defaults filled in
  virtual Result<herald::v1::Limits> setLimits(const herald::v1::Limits& limits) = 0;

  // Client authentication: JWT keys, issuer/audience, anonymous access. auth() returns the
  // settings with secrets in place (callers redact before showing them).
  virtual herald::v1::AuthSettings auth() const = 0;
  virtual Result<herald::v1::AuthSettings> setAuth(const herald::v1::AuthSettings& auth) = 0;

  // Session bans (ControlService.Disconnect's block_until, RevokeToken): kept with the config
  // until `until` (Unix seconds), at most kMaxBans of each kind; expired ones are dropped at
  // the next change of the bans. Return the new config version.
  static constexpr size_t kMaxBans = 10000;
  virtual Result<uint64_t> blockUser(const std::string& user, int64_t until) = 0;
  virtual Result<uint64_t> revokeToken(const std::string& jti, int64_t until) = 0;

  virtual uint64_t version() const = 0;
  // The current config as pushed to nodes (nonce left empty: each push sets its own).
  virtual ConfigSnapshotPtr snapshot() const = 0;

  using ChangeListener = std::function<void(const ConfigSnapshotPtr&)>;
  virtual void setChangeListener(ChangeListener listener) = 0;
};

using ConfigStorePtr = std::unique_ptr<ConfigStore>;

}  // namespace herald::control
