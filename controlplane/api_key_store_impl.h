#pragma once

#include <map>
#include <mutex>
#include <string>

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

}  // namespace herald::control
