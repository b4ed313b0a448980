#include "controlplane/redis/redis_api_key_store.h"

#include <cstdio>
#include <stdexcept>

#include "common/logging.h"

namespace herald::control {
namespace {

constexpr const char* kKeysKey = "herald:keys";
// Hashes of revoked keys: an import (a replica's old file, --admin-key) never brings one back.
constexpr const char* kRevokedKey = "herald:keys:revoked";
// Set once keys live in Redis: without it, an empty hash means Redis lost them (not that
// every key was revoked), and the replicas write back what they hold.
constexpr const char* kMarkerKey = "herald:keys:init";

// HSETNX unless revoked: 1 added, 0 already there, -1 revoked.
constexpr const char* kImportScript = R"lua(
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
redis.call('SET', KEYS[3], '1')
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
)lua";

}  // namespace

RedisApiKeyStore::RedisApiKeyStore(const RedisAddress& address, std::chrono::milliseconds timeout,
                                   const std::string& data_dir)
    : conn_(address, timeout) {
  // A replica that ran on its own file before: its keys join Redis once (revoked ones stay
  // revoked), and the file is set aside so that a later start does not bring them back.
  const std::string file = data_dir + "/api_keys.json";
  const KeysByHash local = loadKeyFile(file);
  if (!local.empty()) {
    std::vector<std::vector<std::string>> commands;
    for (const auto& [hash, key] : local) {
      commands.push_back({"EVAL", kImportScript, "3", kKeysKey, kRevokedKey, kMarkerKey, hash,
                          keyRecord(key).dump()});
    }
    auto result = conn_.pipeline(commands);
    if (!result.status.isOk()) {
      throw std::runtime_error("cannot share the API keys of " + file + " through redis " +
                               address.text + ": " + result.status.message());
    }
    const std::string moved = file + ".imported";
    std::rename(file.c_str(), moved.c_str());
    componentLogger("control")->info(
        "API keys of {} are shared through redis {} now (the file "
        "is kept as {})",
        file, address.text, moved);
  }
  if (Status s = refresh(); !s.isOk()) {
    throw std::runtime_error("cannot read the API keys from redis " + address.text + ": " +
                             s.message());
  }
  refresher_ = std::thread([this] {
    auto log = componentLogger("control");
    bool failing = false;
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, kRefreshInterval, [this] { return stopping_; })) {
      lock.unlock();
      const Status s = refresh();
      if (!s.isOk() && !failing) {
        log->warn(
            "API keys: cannot read them from redis ({}); checking callers against the "
            "keys as last read",
            s.message());
      } else if (s.isOk() && failing) {
        log->info("API keys: read from redis again");
      }
      failing = !s.isOk();
      lock.lock();
    }
  });
}

RedisApiKeyStore::~RedisApiKeyStore() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (refresher_.joinable()) {
    refresher_.join();
  }
}

Status RedisApiKeyStore::refresh() const {
  uint64_t changes_before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    changes_before = changes_;
  }
  auto result = conn_.pipeline({{"EXISTS", kMarkerKey}, {"HGETALL", kKeysKey}});
  if (!result.status.isOk()) {
    return result.status;
  }
  const RedisValue& marker = result.replies[0];
  const RedisValue& all = result.replies[1];
  if (all.type != RedisValue::Type::kArray) {
    return Status(ErrorCode::kUnavailable, "HGETALL " + std::string(kKeysKey) + ": " + all.str);
  }
  KeysByHash keys;
  for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
    auto record = nlohmann::json::parse(all.elements[i + 1].str, nullptr, false);
    if (auto key = parseKeyRecord(record)) {
      keys[all.elements[i].str] = *key;  // a record that does not parse admits no one
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (marker.type == RedisValue::Type::kInteger && marker.integer == 0 && keys.empty() &&
      !keys_.empty()) {
    // Redis lost the keys (flushed, restarted without persistence): what this replica holds
    // goes back, instead of locking every caller out.
    std::vector<std::vector<std::string>> commands;
    for (const auto& [hash, key] : keys_) {
      commands.push_back({"EVAL", kImportScript, "3", kKeysKey, kRevokedKey, kMarkerKey, hash,
                          keyRecord(key).dump()});
    }
    conn_.pipeline(commands);
    return Status::ok();
  }
  if (changes_ != changes_before) {
    return Status::ok();  // a create or revoke here meanwhile: this read may predate it
  }
  keys_ = std::move(keys);
  return Status::ok();
}

Result<herald::v1::ApiKey> RedisApiKeyStore::add(const std::string& name,
                                                 herald::v1::ApiKeyRole role,
                                                 const std::string& secret) {
  auto made = newKey(name, role, secret);
  if (!made.isOk()) {
    return made.status();
  }
  const auto& [hash, key] = made.value();
  auto reply = conn_.command(
      {"EVAL", kImportScript, "3", kKeysKey, kRevokedKey, kMarkerKey, hash, keyRecord(key).dump()});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kInteger) {
    return Status(ErrorCode::kUnavailable, "adding an API key: " + reply->str);
  }
  if (reply->integer == -1) {
    return Status(ErrorCode::kPermissionDenied, "this key was revoked");
  }
  if (reply->integer == 0) {
    return Status(ErrorCode::kAlreadyExists, "this key already exists");
  }
  std::lock_guard<std::mutex> lock(mu_);
  keys_[hash] = key;
  ++changes_;
  return key;
}

Result<ApiKeyStore::Created> RedisApiKeyStore::create(const std::string& name,
                                                      herald::v1::ApiKeyRole role) {
  auto secret = newKeySecret();
  if (!secret.isOk()) {
    return secret.status();
  }
  auto key = add(name, role, secret.value());
  if (!key.isOk()) {
    return key.status();
  }
  return Created{key.value(), secret.value()};
}

Result<herald::v1::ApiKey> RedisApiKeyStore::import(const std::string& name,
                                                    herald::v1::ApiKeyRole role,
                                                    const std::string& secret) {
  if (Status s = checkImportedSecret(secret); !s.isOk()) {
    return s;
  }
  return add(name, role, secret);
}

Status RedisApiKeyStore::revoke(const std::string& id) {
  // Against what Redis holds now: a key created through another replica a moment ago too.
  if (Status s = refresh(); !s.isOk()) {
    return s;
  }
  std::string hash;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [h, key] : keys_) {
      if (key.id() == id) {
        hash = h;
        break;
      }
    }
  }
  if (hash.empty()) {
    return Status(ErrorCode::kNotFound, "no API key with id '" + id.substr(0, 64) + "'");
  }
  auto result = conn_.pipeline({{"SADD", kRevokedKey, hash}, {"HDEL", kKeysKey, hash}});
  if (!result.status.isOk()) {
    return result.status;
  }
  std::lock_guard<std::mutex> lock(mu_);
  keys_.erase(hash);
  ++changes_;
  return Status::ok();
}

std::vector<herald::v1::ApiKey> RedisApiKeyStore::list() const {
  refresh();  // the cluster's list, or the last one read when Redis is away
  std::lock_guard<std::mutex> lock(mu_);
  return sortedKeys(keys_);
}

std::optional<herald::v1::ApiKeyRole> RedisApiKeyStore::roleOf(const std::string& presented) const {
  const auto hash = presentedKeyHash(presented);
  if (!hash) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);  // the copy, never Redis: a guess costs no round trip
  return roleIn(keys_, *hash);
}

size_t RedisApiKeyStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

}  // namespace herald::control
