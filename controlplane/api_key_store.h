#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "herald/v1/control.pb.h"

namespace herald::control {

/**
 * Control API keys, stored as SHA-256 hashes only. A key is looked up by the hash of what the
 * caller presents, so no secret is ever kept or compared in the clear. Thread-safe.
 */
class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;

  struct Created {
    herald::v1::ApiKey key;
    std::string secret;
  };
  virtual Result<Created> create(const std::string& name, herald::v1::ApiKeyRole role) = 0;
  // Adds a key whose secret the operator chose (e.g. --admin-key); at least 32 bytes.
  virtual Result<herald::v1::ApiKey> import(const std::string& name, herald::v1::ApiKeyRole role,
                                            const std::string& secret) = 0;
  virtual Status revoke(const std::string& id) = 0;
  virtual std::vector<herald::v1::ApiKey> list() const = 0;
  // The role of the key whose secret is `presented`, if any.
  virtual std::optional<herald::v1::ApiKeyRole> roleOf(const std::string& presented) const = 0;
  virtual size_t size() const = 0;
};

using ApiKeyStorePtr = std::unique_ptr<ApiKeyStore>;

const char* roleName(herald::v1::ApiKeyRole role);
bool parseRole(const std::string& text, herald::v1::ApiKeyRole* out);

}  // namespace herald::control
