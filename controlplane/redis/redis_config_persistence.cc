#include "controlplane/redis/redis_config_persistence.h"

#include <cstdlib>

namespace herald::control {
namespace {

constexpr const char* kStateKey = "herald:config:state";
constexpr const char* kVersionKey = "herald:config:version";

constexpr const char* kStoreScript = R"lua(
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current ~= tonumber(ARGV[1]) then return current end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[2])
return -1
)lua";

class RedisPersistence : public ConfigPersistence {
 public:
  RedisPersistence(const RedisAddress& address, std::chrono::milliseconds timeout)
      : conn_(address, timeout) {}

  Result<std::string> load() override {
    auto reply = conn_.command({"GET", kStateKey});
    if (!reply.isOk()) {
      return reply.status();
    }
    if (reply->type == RedisValue::Type::kNil) {
      return std::string();
    }
    if (reply->type != RedisValue::Type::kString) {
      return Status(ErrorCode::kUnavailable, describe() + ": GET " + kStateKey + ": " + reply->str);
    }
    return reply->str;
  }

  Status store(uint64_t previous, uint64_t version, const std::string& text) override {
    auto reply = conn_.command({"EVAL", kStoreScript, "2", kStateKey, kVersionKey,
                                std::to_string(previous), std::to_string(version), text});
    if (!reply.isOk()) {
      return reply.status();
    }
    if (reply->type != RedisValue::Type::kInteger) {
      return Status(ErrorCode::kUnavailable, describe() + ": config write: " + reply->str);
    }
    if (reply->integer != -1) {
      return Status(ErrorCode::kConflict,
                    "the config changed on another replica at the same time (now version " +
                        std::to_string(reply->integer) + "); retry");
    }
    return Status::ok();
  }

  Result<uint64_t> storedVersion() override {
    auto reply = conn_.command({"GET", kVersionKey});
    if (!reply.isOk()) {
      return reply.status();
    }
    if (reply->type == RedisValue::Type::kNil) {
      return uint64_t{0};
    }
    return static_cast<uint64_t>(std::strtoull(reply->str.c_str(), nullptr, 10));
  }

  std::string describe() const override { return "shared config in redis " + conn_.address().text; }

 private:
  RedisConnection conn_;
};

}  // namespace

ConfigPersistencePtr makeRedisPersistence(const RedisAddress& address,
                                          std::chrono::milliseconds timeout) {
  return std::make_unique<RedisPersistence>(address, timeout);
}

}  // namespace herald::control
