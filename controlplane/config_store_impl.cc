#include "controlplane/config_store_impl.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "controlplane/namespace_rules.h"

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
    : data_dir_(std::move(data_dir)),
      state_file_(data_dir_ + "/state.json"),
      heartbeat_interval_ms_(heartbeat_interval_ms) {
  if (::mkdir(data_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    throw std::runtime_error("data dir " + data_dir_ + ": " + std::strerror(errno));
  }
  struct stat st {};
  const bool exists = ::stat(state_file_.c_str(), &st) == 0;
  std::ifstream in(state_file_);
  if (exists && !in) {
    throw std::runtime_error("state file " + state_file_ + " exists but cannot be read: " +
                             std::strerror(errno) + " (Herald will not start empty over it)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (exists) {
    loaded_existing_ = true;
    std::stringstream buffer;
    buffer << in.rdbuf();
    load(buffer.str());
    rebuildSnapshotLocked();
    return;
  }
  for (const auto& ns : initial_ns) {
    namespaces_[ns.name()] = ns;
  }
  limits_ = initial_limits;
  auth_ = initial_auth;
  Status s = commitLocked();
  if (!s.isOk()) {
    throw std::runtime_error(s.message());
  }
}

void ConfigStoreImpl::load(const std::string& text) {
  const std::string what = "corrupt state file " + state_file_ +
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
  version_ = doc["version"].get<uint64_t>();
  for (const auto& item : doc["namespaces"]) {
    herald::v1::Namespace ns;
    fromJson(item.dump(), &ns, what);
    Status s = validateNamespace(ns);
    if (!s.isOk()) {
      throw std::runtime_error(what + ": namespace '" + ns.name() + "': " + s.message());
    }
    namespaces_[ns.name()] = ns;
  }
  fromJson(doc["limits"].dump(), &limits_, what);
  if (doc.contains("auth")) {
    fromJson(doc["auth"].dump(), &auth_, what);
    Status s = validateAuthSettings(auth_);
    if (!s.isOk()) {
      throw std::runtime_error(what + ": auth: " + s.message());
    }
  }
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
  return doc.dump(2) + "\n";
}

Status ConfigStoreImpl::commitLocked() {
  ++version_;
  Status s = writeFileAtomically(state_file_, serializeLocked());
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
