#include "controlplane/api_key_store_impl.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/clock.h"
#include "common/hex.h"

namespace herald::control {
namespace {

bool validRole(herald::v1::ApiKeyRole role) {
  return role == herald::v1::API_KEY_ROLE_ADMIN || role == herald::v1::API_KEY_ROLE_PUBLISHER ||
         role == herald::v1::API_KEY_ROLE_READER;
}

}  // namespace

std::string sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  return toHex(digest, len);
}

const char* roleName(herald::v1::ApiKeyRole role) {
  switch (role) {
    case herald::v1::API_KEY_ROLE_ADMIN:
      return "admin";
    case herald::v1::API_KEY_ROLE_PUBLISHER:
      return "publisher";
    case herald::v1::API_KEY_ROLE_READER:
      return "reader";
    default:
      return "none";
  }
}

bool parseRole(const std::string& text, herald::v1::ApiKeyRole* out) {
  if (text == "admin") {
    *out = herald::v1::API_KEY_ROLE_ADMIN;
  } else if (text == "publisher") {
    *out = herald::v1::API_KEY_ROLE_PUBLISHER;
  } else if (text == "reader") {
    *out = herald::v1::API_KEY_ROLE_READER;
  } else {
    return false;
  }
  return true;
}

nlohmann::json keyRecord(const herald::v1::ApiKey& key) {
  return {{"id", key.id()},
          {"name", key.name()},
          {"role", roleName(key.role())},
          {"created_unix_ms", key.created_unix_ms()}};
}

std::optional<herald::v1::ApiKey> parseKeyRecord(const nlohmann::json& record) {
  if (!record.is_object() || !record.contains("id") || !record["id"].is_string() ||
      !record.contains("role") || !record["role"].is_string()) {
    return std::nullopt;
  }
  herald::v1::ApiKey key;
  key.set_id(record["id"].get<std::string>());
  const auto name = record.find("name");
  key.set_name(name != record.end() && name->is_string() ? name->get<std::string>() : "");
  herald::v1::ApiKeyRole role;
  if (!parseRole(record["role"].get<std::string>(), &role)) {
    return std::nullopt;
  }
  key.set_role(role);
  const auto created = record.find("created_unix_ms");
  key.set_created_unix_ms(
      created != record.end() && created->is_number_integer() ? created->get<int64_t>() : 0);
  return key;
}

Result<std::pair<std::string, herald::v1::ApiKey>> newKey(const std::string& name,
                                                          herald::v1::ApiKeyRole role,
                                                          const std::string& secret) {
  if (!validRole(role)) {
    return Status(ErrorCode::kBadRequest, "role must be admin, publisher or reader");
  }
  if (name.size() > 64) {
    return Status(ErrorCode::kBadRequest, "name longer than 64 bytes");
  }
  const std::string hash = sha256Hex(secret);
  herald::v1::ApiKey key;
  key.set_id(hash.substr(0, 12));
  key.set_name(name);
  key.set_role(role);
  key.set_created_unix_ms(unixMillis());
  return std::make_pair(hash, key);
}

Result<std::string> newKeySecret() {
  unsigned char random[24];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return Status(ErrorCode::kInternal, "no randomness available for a new key");
  }
  return "hk_" + toHex(random, sizeof(random));
}

Status checkImportedSecret(const std::string& secret) {
  if (secret.size() < 32) {
    return Status(ErrorCode::kBadRequest, "an API key must be at least 32 bytes");
  }
  return Status::ok();
}

KeysByHash loadKeyFile(const std::string& file) {
  KeysByHash out;
  std::ifstream in(file);
  if (!in) {
    return out;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string what = "corrupt API key file " + file + " (fix or move it away)";
  auto doc = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    throw std::runtime_error(what);
  }
  for (const auto& item : doc) {
    if (!item.is_object() || !item.contains("sha256") || !item["sha256"].is_string()) {
      throw std::runtime_error(what + ": entry without sha256, id or role");
    }
    auto key = parseKeyRecord(item);
    if (!key) {
      throw std::runtime_error(what + ": entry without sha256, id or a known role");
    }
    out[item["sha256"].get<std::string>()] = *key;
  }
  return out;
}

std::optional<std::string> presentedKeyHash(const std::string& presented) {
  if (presented.empty() || presented.size() > 512) {
    return std::nullopt;
  }
  return sha256Hex(presented);
}

std::optional<herald::v1::ApiKeyRole> roleIn(const KeysByHash& keys, const std::string& hash) {
  auto it = keys.find(hash);
  if (it == keys.end()) {
    return std::nullopt;
  }
  return it->second.role();
}

std::vector<herald::v1::ApiKey> sortedKeys(const KeysByHash& keys) {
  std::vector<herald::v1::ApiKey> out;
  for (const auto& [hash, key] : keys) {
    out.push_back(key);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_unix_ms() != b.created_unix_ms() ? a.created_unix_ms() < b.created_unix_ms()
                                                      : a.id() < b.id();
  });
  return out;
}

ApiKeyStoreImpl::ApiKeyStoreImpl(const std::string& data_dir)
    : file_(data_dir + "/api_keys.json"), by_hash_(loadKeyFile(file_)) {}

Status ApiKeyStoreImpl::persistLocked() const {
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& [hash, key] : by_hash_) {
    nlohmann::json record = keyRecord(key);
    record["sha256"] = hash;
    doc.push_back(std::move(record));
  }
  return writeFileAtomically(file_, doc.dump(2) + "\n");
}

Result<herald::v1::ApiKey> ApiKeyStoreImpl::addLocked(const std::string& name,
                                                      herald::v1::ApiKeyRole role,
                                                      const std::string& secret) {
  auto made = newKey(name, role, secret);
  if (!made.isOk()) {
    return made.status();
  }
  const auto& [hash, key] = made.value();
  if (by_hash_.count(hash) != 0) {
    return Status(ErrorCode::kAlreadyExists, "this key already exists");
  }
  by_hash_[hash] = key;
  Status s = persistLocked();
  if (!s.isOk()) {
    by_hash_.erase(hash);
    return s;
  }
  return key;
}

Result<ApiKeyStore::Created> ApiKeyStoreImpl::create(const std::string& name,
                                                     herald::v1::ApiKeyRole role) {
  auto secret = newKeySecret();
  if (!secret.isOk()) {
    return secret.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto key = addLocked(name, role, secret.value());
  if (!key.isOk()) {
    return key.status();
  }
  return Created{key.value(), secret.value()};
}

Result<herald::v1::ApiKey> ApiKeyStoreImpl::import(const std::string& name,
                                                   herald::v1::ApiKeyRole role,
                                                   const std::string& secret) {
  if (Status s = checkImportedSecret(secret); !s.isOk()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return addLocked(name, role, secret);
}

Status ApiKeyStoreImpl::revoke(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it) {
    if (it->second.id() == id) {
      const auto removed = *it;
      by_hash_.erase(it);
      Status s = persistLocked();
      if (!s.isOk()) {
        by_hash_.insert(removed);
      }
      return s;
    }
  }
  return Status(ErrorCode::kNotFound, "no API key with id '" + id.substr(0, 64) + "'");
}

std::vector<herald::v1::ApiKey> ApiKeyStoreImpl::list() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sortedKeys(by_hash_);
}

std::optional<herald::v1::ApiKeyRole> ApiKeyStoreImpl::roleOf(const std::string& presented) const {
  const auto hash = presentedKeyHash(presented);
  if (!hash) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return roleIn(by_hash_, *hash);
}

size_t ApiKeyStoreImpl::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_hash_.size();
}

}  // namespace herald::control
