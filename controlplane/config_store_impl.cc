#include "controlplane/config_store_impl.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/hook_settings.h"
#include "controlplane/namespace_rules.h"
#include "controlplane/session_bans.h"

namespace herald::control {
namespace {

std::string toJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

void fromJson(const std::string& text, google::protobuf::Message* m, const std::string& what) {
  auto status = google::protobuf::util::JsonStringToMessage(text, m);
  if (!status.ok()) {
    throw std::runtime_error(what + ": " + std::string(status.message()));
  }
}

}  // namespace

ConfigStoreImpl::ConfigStoreImpl(std::string data_dir,
                                 const std::vector<herald::v1::Namespace>& initial_ns,
                                 const herald::v1::Limits& initial_limits,
                                 const herald::v1::AuthSettings& initial_auth,
                                 uint32_t heartbeat_interval_ms)
    : ConfigStoreImpl(makeFilePersistence(data_dir), initial_ns, initial_limits, initial_auth,
                      heartbeat_interval_ms) {}

ConfigStoreImpl::ConfigStoreImpl(ConfigPersistencePtr persistence,
                                 const std::vector<herald::v1::Namespace>& initial_ns,
                                 const herald::v1::Limits& initial_limits,
                                 const herald::v1::AuthSettings& initial_auth,
                                 uint32_t heartbeat_interval_ms)
    : persistence_(std::move(persistence)), heartbeat_interval_ms_(heartbeat_interval_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto stored = persistence_->load();
    if (!stored.isOk()) {
      throw std::runtime_error(stored.status().message());
    }
    if (!stored->empty()) {
      loaded_existing_ = true;
      load(stored.value());
      rebuildSnapshotLocked();
      return;
    }
    for (const auto& ns : initial_ns) {
      namespaces_[ns.name()] = ns;
    }
    limits_ = initial_limits;
    auth_ = initial_auth;
    Status s = commitLocked();
    if (s.isOk()) {
      return;
    }
    if (s.code() != ErrorCode::kConflict) {
      throw std::runtime_error(s.message());
    }
    // Another replica stored its initial state first: use that one.
    namespaces_.clear();
  }
  throw std::runtime_error(persistence_->describe() + ": the config kept changing during start-up");
}

Status ConfigStoreImpl::reloadIfNewer() {
  auto stored_version = persistence_->storedVersion();
  if (!stored_version.isOk()) {
    return stored_version.status();
  }
  ConfigSnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stored_version.value() < version_) {
      // The store lost the config, or went back to an older copy (a flushed Redis, or one
      // restarted from an old snapshot): put ours back, or every later change would conflict.
      return persistence_->store(stored_version.value(), version_, serializeLocked());
    }
    if (stored_version.value() <= version_) {
      return Status::ok();
    }
    auto stored = persistence_->load();
    if (!stored.isOk()) {
      return stored.status();
    }
    if (stored->empty()) {
      return Status::ok();
    }
    try {
      load(stored.value());
    } catch (const std::exception& e) {
      return Status(ErrorCode::kInternal, e.what());
    }
    rebuildSnapshotLocked();
    snap = snapshot_;
  }
  announce(snap);
  return Status::ok();
}

void ConfigStoreImpl::load(const std::string& text) {
  const std::string what = "corrupt " + persistence_->describe() +
                           " (fix or move it away; Herald will not start empty over it)";
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(what + ": " + e.what());
  }
  if (!doc.is_object() || !doc.contains("version") || !doc["version"].is_number_unsigned() ||
      !doc.contains("namespaces") || !doc["namespaces"].is_array() || !doc.contains("limits") ||
      !doc["limits"].is_object()) {
    throw std::runtime_error(what + ": missing version, namespaces or limits");
  }
  // Parsed into fresh values first: a bad document leaves the current state untouched.
  std::map<std::string, herald::v1::Namespace> namespaces;
  herald::v1::Limits limits;
  herald::v1::AuthSettings auth;
  herald::v1::SessionBans bans;
  for (const auto& item : doc["namespaces"]) {
    herald::v1::Namespace ns;
    fromJson(item.dump(), &ns, what);
    Status s = validateNamespace(ns);
    if (!s.isOk()) {
      throw std::runtime_error(what + ": namespace '" + ns.name() + "': " + s.message());
    }
    namespaces[ns.name()] = ns;
  }
  fromJson(doc["limits"].dump(), &limits, what);
  if (doc.contains("auth")) {
    fromJson(doc["auth"].dump(), &auth, what);
    Status s = validateAuthSettings(auth);
    if (!s.isOk()) {
      throw std::runtime_error(what + ": auth: " + s.message());
    }
  }
  if (doc.contains("bans")) {
    fromJson(doc["bans"].dump(), &bans, what);
  }
  version_ = doc["version"].get<uint64_t>();
  namespaces_ = std::move(namespaces);
  limits_ = std::move(limits);
  auth_ = std::move(auth);
  bans_ = std::move(bans);
}

std::string ConfigStoreImpl::serializeLocked() const {
  nlohmann::json doc;
  doc["version"] = version_;
  doc["namespaces"] = nlohmann::json::array();
  for (const auto& [name, ns] : namespaces_) {
    doc["namespaces"].push_back(nlohmann::json::parse(toJson(ns)));
  }
  doc["limits"] = nlohmann::json::parse(toJson(limits_));
  doc["auth"] = nlohmann::json::parse(toJson(auth_));
  doc["bans"] = nlohmann::json::parse(toJson(bans_));
  return doc.dump(2) + "\n";
}

Status ConfigStoreImpl::commitLocked() {
  ++version_;
  Status s = persistence_->store(version_ - 1, version_, serializeLocked());
  if (!s.isOk()) {
    --version_;
    return s;
  }
  rebuildSnapshotLocked();
  return Status::ok();
}

void ConfigStoreImpl::rebuildSnapshotLocked() {
  auto snap = std::make_shared<herald::v1::ConfigSnapshot>();
  snap->set_version(version_);
  for (const auto& [name, ns] : namespaces_) {
    *snap->add_namespaces() = ns;
  }
  *snap->mutable_limits() = withLimitDefaults(limits_);
  *snap->mutable_auth() = auth_;
  *snap->mutable_hooks() = hooks_;
  snap->set_report_clients(report_clients_);
  *snap->mutable_bans() = bans_;
  snap->set_heartbeat_interval_ms(heartbeat_interval_ms_);
  snapshot_ = std::move(snap);
}

void ConfigStoreImpl::announce(const ConfigSnapshotPtr& snap) {
  ChangeListener listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = listener_;
  }
  std::lock_guard<std::mutex> order(announce_mu_);
  if (snap->version() <= last_announced_) {
    return;
  }
  last_announced_ = snap->version();
  if (listener) {
    listener(snap);
  }
}

Result<herald::v1::Namespace> ConfigStoreImpl::createNamespace(const herald::v1::Namespace& ns) {
  Status valid = validateNamespace(ns);
  if (!valid.isOk()) {
    return valid;
  }
  ConfigSnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status hooks = checkNamespaceHooks(hooks_, ns.subscribe_hook(), ns.publish_hook());
        !hooks.isOk()) {
      return hooks;
    }
    if (namespaces_.count(ns.name()) != 0) {
      return Status(ErrorCode::kAlreadyExists, "namespace '" + ns.name() + "' already exists");
    }
    namespaces_[ns.name()] = ns;
    Status s = commitLocked();
    if (!s.isOk()) {
      namespaces_.erase(ns.name());
      return s;
    }
    snap = snapshot_;
  }
  announce(snap);
  return ns;
}

Result<herald::v1::Namespace> ConfigStoreImpl::updateNamespace(const herald::v1::Namespace& ns) {
  Status valid = validateNamespace(ns);
  if (!valid.isOk()) {
    return valid;
  }
  ConfigSnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Status hooks = checkNamespaceHooks(hooks_, ns.subscribe_hook(), ns.publish_hook());
        !hooks.isOk()) {
      return hooks;
    }
    auto it = namespaces_.find(ns.name());
    if (it == namespaces_.end()) {
      return Status(ErrorCode::kNotFound, "namespace '" + ns.name() + "' does not exist");
    }
    const herald::v1::Namespace previous = it->second;
    it->second = ns;
    Status s = commitLocked();
    if (!s.isOk()) {
      it->second = previous;
      return s;
    }
    snap = snapshot_;
  }
  announce(snap);
  return ns;
}

Status ConfigStoreImpl::deleteNamespace(const std::string& name) {
  ConfigSnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = namespaces_.find(name);
    if (it == namespaces_.end()) {
      return Status(ErrorCode::kNotFound, "namespace '" + name + "' does not exist");
    }
    const herald::v1::Namespace previous = it->second;
    namespaces_.erase(it);
    Status s = commitLocked();
    if (!s.isOk()) {
      namespaces_[name] = previous;
      return s;
    }
    snap = snapshot_;
  }
  announce(snap);
  return Status::ok();
}

Result<herald::v1::Namespace> ConfigStoreImpl::getNamespace(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = namespaces_.find(name);
  if (it == namespaces_.end()) {
    return Status(ErrorCode::kNotFound, "namespace '" + name + "' does not exist");
  }
  return it->second;
}

std::vector<herald::v1::Namespace> ConfigStoreImpl::listNamespaces() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<herald::v1::Namespace> out;
  out.reserve(namespaces_.size());
  for (const auto& [name, ns] : namespaces_) {
    out.push_back(ns);
  }
  return out;
}

herald::v1::Limits ConfigStoreImpl::limits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return withLimitDefaults(limits_);
}

Result<herald::v1::Limits> ConfigStoreImpl::setLimits(const herald::v1::Limits& limits) {
  Status valid = validateLimits(limits);
  if (!valid.isOk()) {
    return valid;
  }
  ConfigSnapshotPtr snap;
  herald::v1::Limits effective;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const herald::v1::Limits previous = limits_;
    limits_ = limits;
    Status s = commitLocked();
    if (!s.isOk()) {
      limits_ = previous;
      return s;
    }
    snap = snapshot_;
    effective = withLimitDefaults(limits_);
  }
  announce(snap);
  return effective;
}

herald::v1::AuthSettings ConfigStoreImpl::auth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return auth_;
}

Result<herald::v1::AuthSettings> ConfigStoreImpl::setAuth(const herald::v1::AuthSettings& auth) {
  Status valid = validateAuthSettings(auth);
  if (!valid.isOk()) {
    return valid;
  }
  ConfigSnapshotPtr snap;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const herald::v1::AuthSettings previous = auth_;
    auth_ = auth;
    Status s = commitLocked();
    if (!s.isOk()) {
      auth_ = previous;
      return s;
    }
    snap = snapshot_;
  }
  announce(snap);
  return auth;
}

Result<uint64_t> ConfigStoreImpl::changeBans(
    const std::function<Status(herald::v1::SessionBans*, int64_t now)>& change) {
  ConfigSnapshotPtr snap;
  uint64_t version = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const herald::v1::SessionBans previous = bans_;
    const int64_t now = unixSeconds();
    if (Status s = change(&bans_, now); !s.isOk()) {
      bans_ = previous;
      return s;
    }
    pruneSessionBans(&bans_, now);
    if (Status s = commitLocked(); !s.isOk()) {
      bans_ = previous;
      return s;
    }
    snap = snapshot_;
    version = version_;
  }
  announce(snap);
  return version;
}

Result<uint64_t> ConfigStoreImpl::blockUser(const std::string& user, int64_t until) {
  return changeBans([&](herald::v1::SessionBans* bans, int64_t now) {
    return addUserBlock(bans, user, until, now, kMaxBans);
  });
}

Result<uint64_t> ConfigStoreImpl::revokeToken(const std::string& jti, int64_t until) {
  return changeBans([&](herald::v1::SessionBans* bans, int64_t now) {
    return addTokenRevocation(bans, jti, until, now, kMaxBans);
  });
}

void ConfigStoreImpl::setHooks(const herald::v1::HookSettings& hooks, bool report_clients) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_ = hooks;
  report_clients_ = report_clients;
  rebuildSnapshotLocked();
}

uint64_t ConfigStoreImpl::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

ConfigSnapshotPtr ConfigStoreImpl::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

void ConfigStoreImpl::setChangeListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

}  // namespace herald::control
