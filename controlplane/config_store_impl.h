#pragma once

#include <map>
#include <mutex>
#include <string>

#include "controlplane/config_persistence.h"
#include "controlplane/config_store.h"

namespace herald::control {

/**
 * ConfigStore kept in memory and persisted through a ConfigPersistence: `<data_dir>/state.json`
 * (written to a temporary file, fsynced and renamed so a crash never leaves it half-written),
 * or Redis, shared by control-plane replicas (reloadIfNewer() picks up their changes).
 */
class ConfigStoreImpl : public ConfigStore {
 public:
  // Loads `<data_dir>/state.json` if present, else starts from the given initial namespaces and
  // limits and writes the file. Throws std::runtime_error on a corrupt state file or when the
  // directory is not writable (start-up only).
  ConfigStoreImpl(std::string data_dir, const std::vector<herald::v1::Namespace>& initial_ns,
                  const herald::v1::Limits& initial_limits,
                  const herald::v1::AuthSettings& initial_auth, uint32_t heartbeat_interval_ms);
  // The same over any persistence: the stored state if there is one, else the initial one
  // (stored). Throws std::runtime_error when the stored state is corrupt or unreachable.
  ConfigStoreImpl(ConfigPersistencePtr persistence,
                  const std::vector<herald::v1::Namespace>& initial_ns,
                  const herald::v1::Limits& initial_limits,
                  const herald::v1::AuthSettings& initial_auth, uint32_t heartbeat_interval_ms);

  // Shared persistence: loads a newer stored version (another replica's change) and announces
  // it; stores ours again when the store lost it (e.g. a flushed Redis). Called periodically.
  Status reloadIfNewer();

  // herald::control::ConfigStore
  Result<herald::v1::Namespace> createNamespace(const herald::v1::Namespace& ns) override;
  Result<herald::v1::Namespace> updateNamespace(const herald::v1::Namespace& ns) override;
  Status deleteNamespace(const std::string& name) override;
  Result<herald::v1::Namespace> getNamespace(const std::string& name) const override;
  std::vector<herald::v1::Namespace> listNamespaces() const override;
  herald::v1::Limits limits() const override;
  Result<herald::v1::Limits> setLimits(const herald::v1::Limits& limits) override;
  herald::v1::AuthSettings auth() const override;
  Result<herald::v1::AuthSettings> setAuth(const herald::v1::AuthSettings& auth) override;
  Result<uint64_t> blockUser(const std::string& user, int64_t until) override;
  Result<uint64_t> revokeToken(const std::string& jti, int64_t until) override;
  uint64_t version() const override;
  ConfigSnapshotPtr snapshot() const override;
  void setChangeListener(ChangeListener listener) override;

  // The hooks of this process's config file: in every snapshot, never stored (each replica
  // sends its own; keep them the same on every replica). Start-up only, before nodes join.
  // `report_clients`: nodes report each connection (ConfigSnapshot.report_clients).
  void setHooks(const herald::v1::HookSettings& hooks, bool report_clients = false);

  // True when start-up found a state file (so initial settings were not applied).
  bool loadedExistingState() const { return loaded_existing_; }

 private:
  // Applies `change` to the bans (rolled back if it or the commit fails), then announces.
  Result<uint64_t> changeBans(
      const std::function<Status(herald::v1::SessionBans*, int64_t now)>& change);
  // Bumps the version, persists, rebuilds the snapshot; returns the snapshot to announce.
  // Persist failures are reported and the in-memory change is rolled back by the caller.
  Status commitLocked();
  void rebuildSnapshotLocked();
  void announce(const ConfigSnapshotPtr& snap);
  // Replaces namespaces, limits, auth and version with the stored text; throws on bad input.
  void load(const std::string& text);
  std::string serializeLocked() const;

  const ConfigPersistencePtr persistence_;
  const uint32_t heartbeat_interval_ms_;
  mutable std::mutex mu_;
  std::map<std::string, herald::v1::Namespace> namespaces_;
  herald::v1::Limits limits_;
  herald::v1::AuthSettings auth_;
  herald::v1::HookSettings hooks_;
  herald::v1::SessionBans bans_;
  bool report_clients_ = false;
  uint64_t version_ = 0;
  ConfigSnapshotPtr snapshot_;
  ChangeListener listener_;
  // Changes commit under mu_ but are announced after it; this keeps announcements in version
  // order (a late, older snapshot is dropped: the newer one already contains its change).
  std::mutex announce_mu_;
  uint64_t last_announced_ = 0;
  bool loaded_existing_ = false;
};

}  // namespace herald::control
