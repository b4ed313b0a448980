#include "controlplane/redis/redis_api_key_store.h"

#include <stdexcept>

#include "common/logging.h"

namespace herald::control {
namespace {

constexpr const char* kKeysKey = "herald:keys";

}  // namespace

RedisApiKeyStore::RedisApiKeyStore(const RedisAddress& address, std::chrono::milliseconds timeout,
                                   const std::string& data_dir)
    : conn_(address, timeout) {
  const std::string file = data_dir + "/api_keys.json";
  const KeysByHash local = loadKeyFile(file);
  if (!local.empty()) {
    std::vector<std::vector<std::string>> commands;
    for (const auto& [hash, key] : local) {
      commands.push_back({"HSETNX", kKeysKey, hash, keyRecord(key).dump()});
    }
    auto result = conn_.pipeline(commands);
    if (!result.status.isOk()) {
      throw std::runtime_error("cannot share the API keys of " + file + " through redis " +
                               address.text + ": " + result.status.message());
    }
    componentLogger("control")->info("API keys of {} are shared through redis {} now", file,
                                     address.text);
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
  auto reply = conn_.command({"HGETALL", kKeysKey});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kArray) {
    return Status(ErrorCode::kUnavailable, "HGETALL " + std::string(kKeysKey) + ": " + reply->str);
  }
  KeysByHash keys;
  for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
    auto record = nlohmann::json::parse(reply->elements[i + 1].str, nullptr, false);
    if (auto key = parseKeyRecord(record)) {
      keys[reply->elements[i].str] = *key;  // a record that does not parse admits no one
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
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
  auto reply = conn_.command({"HSETNX", kKeysKey, hash, keyRecord(key).dump()});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kInteger) {
    return Status(ErrorCode::kUnavailable, "HSETNX " + std::string(kKeysKey) + ": " + reply->str);
  }
  if (reply->integer == 0) {
    return Status(ErrorCode::kAlreadyExists, "this key already exists");
  }
  std::lock_guard<std::mutex> lock(mu_);
  keys_[hash] = key;
  return key;
}

Result<ApiKeyStore::Created> RedisApiKeyStore::create(const std::string& name,
                                                      herald::v1::ApiKeyRole role) {
  const std::string secret = newKeySecret();
  if (secret.empty()) {
    return Status(ErrorCode::kInternal, "no randomness available for a new key");
  }
  auto key = add(name, role, secret);
  if (!key.isOk()) {
    return key.status();
  }
  return Created{key.value(), secret};
}

Result<herald::v1::ApiKey> RedisApiKeyStore::import(const std::string& name,
                                                    herald::v1::ApiKeyRole role,
                                                    const std::string& secret) {
  if (secret.size() < 32) {
    return Status(ErrorCode::kBadRequest, "an API key must be at least 32 bytes");
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
  auto reply = conn_.command({"HDEL", kKeysKey, hash});
  if (!reply.isOk()) {
    return reply.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  keys_.erase(hash);
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
