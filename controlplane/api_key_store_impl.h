#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/api_key_store.h"

namespace herald::control {

// ApiKeyStore persisted to `<data_dir>/api_keys.json` (atomic writes, mode 0600).
class ApiKeyStoreImpl : public ApiKeyStore {
 public:
  // Loads the file if present; throws std::runtime_error if it is corrupt (start-up only).
  explicit ApiKeyStoreImpl(const std::string& data_dir);

  // herald::control::ApiKeyStore
  Result<Created> create(const std::string& name, herald::v1::ApiKeyRole role) override;
  Result<herald::v1::ApiKey> import(const std::string& name, herald::v1::ApiKeyRole role,
                                    const std::string& secret) override;
  Status revoke(const std::string& id) override;
  std::vector<herald::v1::ApiKey> list() const override;
  std::optional<herald::v1::ApiKeyRole> roleOf(const std::string& presented) const override;
  size_t size() const override;

 private:
  Result<herald::v1::ApiKey> addLocked(const std::string& name, herald::v1::ApiKeyRole role,
                                       const std::string& secret);
  Status persistLocked() const;

  const std::string file_;
  mutable std::mutex mu_;
  std::map<std::string, herald::v1::ApiKey> by_hash_;  // sha256 hex -> key
};

// SHA-256 of `text` as lowercase hex.
std::string sha256Hex(const std::string& text);

// Keys by the SHA-256 hex of their secret, as api_keys.json and Redis keep them.
using KeysByHash = std::map<std::string, herald::v1::ApiKey>;

// One key's record without its hash ({"id","name","role","created_unix_ms"}), and back; the
// parse fails (nullopt) for a record without an id or a known role.
nlohmann::json keyRecord(const herald::v1::ApiKey& key);
std::optional<herald::v1::ApiKey> parseKeyRecord(const nlohmann::json& record);

// A new key record for `secret` (validated: role, name up to 64 bytes), with its hash.
Result<std::pair<std::string, herald::v1::ApiKey>> newKey(const std::string& name,
                                                          herald::v1::ApiKeyRole role,
                                                          const std::string& secret);
// A fresh "hk_..." secret, or kInternal when no randomness is available.
Result<std::string> newKeySecret();
// Whether an operator-chosen secret (import, --admin-key) may be a key: at least 32 bytes.
Status checkImportedSecret(const std::string& secret);
// The keys of `<data_dir>/api_keys.json` (none when it is absent); throws on a corrupt file.
KeysByHash loadKeyFile(const std::string& file);
// The hash a presented key is looked up by; nullopt for an empty one or one over 512 bytes
// (refused without hashing).
std::optional<std::string> presentedKeyHash(const std::string& presented);
// The role of the key with `hash` in `keys`, if any.
std::optional<herald::v1::ApiKeyRole> roleIn(const KeysByHash& keys, const std::string& hash);
// Keys in created order (then id), as ListApiKeys answers.
std::vector<herald::v1::ApiKey> sortedKeys(const KeysByHash& keys);

}  // namespace herald::control
