#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/api_key_store_impl.h"
#include "controlplane/redis/redis_client.h"

namespace herald::control {

/**
 * Control API keys shared by every replica of a cluster on Redis (`--engine redis`): the
 * hash `herald:keys` maps each key's SHA-256 to its record, as api_keys.json does for one
 * process. Each replica checks callers against its own copy, read again every
 * kRefreshInterval, so a key created or revoked through any replica takes effect on every
 * replica within that interval, and a replica keeps checking keys (as last read) while Redis
 * is away. Creating and revoking need Redis (UNAVAILABLE without it).
 */
class RedisApiKeyStore : public ApiKeyStore {
 public:
  static constexpr std::chrono::milliseconds kRefreshInterval{500};

  // Reads the keys from Redis, after adding those of `<data_dir>/api_keys.json` that Redis
  // lacks (a replica that ran on its own file before). Start-up only: throws when Redis
  // cannot be read or the file is corrupt.
  RedisApiKeyStore(const RedisAddress& address, std::chrono::milliseconds timeout,
                   const std::string& data_dir);
  ~RedisApiKeyStore() override;

  // herald::control::ApiKeyStore
  Result<Created> create(const std::string& name, herald::v1::ApiKeyRole role) override;
  Result<herald::v1::ApiKey> import(const std::string& name, herald::v1::ApiKeyRole role,
                                    const std::string& secret) override;
  Status revoke(const std::string& id) override;
  std::vector<herald::v1::ApiKey> list() const override;
  std::optional<herald::v1::ApiKeyRole> roleOf(const std::string& presented) const override;
  size_t size() const override;

 private:
  // Reads every key from Redis into the copy; the status of the read.
  Status refresh() const;
  Result<herald::v1::ApiKey> add(const std::string& name, herald::v1::ApiKeyRole role,
                                 const std::string& secret);

  mutable RedisConnection conn_;
  mutable std::mutex mu_;
  mutable KeysByHash keys_;  // the copy callers are checked against
  uint64_t changes_ = 0;     // creates and revokes made here (a read from before one is dropped)
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread refresher_;
};

}  // namespace herald::control
