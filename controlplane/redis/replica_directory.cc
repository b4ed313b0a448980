#include "controlplane/redis/replica_directory.h"

namespace herald::control {
namespace {

constexpr const char* kPrefix = "herald:replica:";
constexpr const char* kIndex = "herald:replicas";

}  // namespace

ReplicaDirectory::ReplicaDirectory(const RedisAddress& address, std::chrono::milliseconds timeout)
    : conn_(address, timeout) {}

Status ReplicaDirectory::announce(const herald::v1::ListNodesResponse& self) {
  if (self.replicas_size() != 1) {
    return Status(ErrorCode::kInternal, "announce: exactly one replica entry expected");
  }
  std::string bytes;
  self.SerializeToString(&bytes);
  const std::string& id = self.replicas(0).replica_id();
  const int64_t expires = self.replicas(0).last_seen_unix_ms() + kTtl.count();
  // The entry expires by itself; the index (a sorted set by expiry) is pruned by readers.
  auto result = conn_.pipeline({{"SET", kPrefix + id, bytes, "PX", std::to_string(kTtl.count())},
                                {"ZADD", kIndex, std::to_string(expires), id}});
  if (!result.status.isOk()) {
    return result.status;
  }
  for (const auto& reply : result.replies) {
    if (reply.type == RedisValue::Type::kError) {
      return Status(ErrorCode::kUnavailable, "announce: " + reply.str);
    }
  }
  return Status::ok();
}

Result<std::vector<herald::v1::ListNodesResponse>> ReplicaDirectory::all(int64_t now_unix_ms) {
  // The index, not a SCAN of the keyspace: a Redis holding many channels answers as fast.
  auto index = conn_.pipeline({{"ZREMRANGEBYSCORE", kIndex, "-inf", std::to_string(now_unix_ms)},
                               {"ZRANGE", kIndex, "0", "-1"}});
  if (!index.status.isOk()) {
    return index.status;
  }
  if (index.replies.size() != 2 || index.replies[1].type != RedisValue::Type::kArray) {
    return Status(ErrorCode::kUnavailable, "replicas: unexpected reply from redis");
  }
  std::vector<herald::v1::ListNodesResponse> out;
  if (index.replies[1].elements.empty()) {
    return out;
  }
  std::vector<std::string> mget = {"MGET"};
  for (const RedisValue& id : index.replies[1].elements) {
    mget.push_back(kPrefix + id.str);
  }
  auto values = conn_.command(mget);
  if (!values.isOk()) {
    return values.status();
  }
  for (const RedisValue& value : values->elements) {
    herald::v1::ListNodesResponse entry;
    if (value.type != RedisValue::Type::kString || !entry.ParseFromString(value.str) ||
        entry.replicas_size() != 1) {
      continue;  // expired meanwhile
    }
    auto* replica = entry.mutable_replicas(0);
    replica->set_healthy(now_unix_ms - replica->last_seen_unix_ms() <= kHealthyWithin.count());
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::vector<std::string>> ReplicaDirectory::healthyIds(int64_t now_unix_ms) {
  auto entries = all(now_unix_ms);
  if (!entries.isOk()) {
    return entries.status();
  }
  std::vector<std::string> ids;
  for (const auto& entry : entries.value()) {
    if (entry.replicas(0).healthy()) {
      ids.push_back(entry.replicas(0).replica_id());
    }
  }
  return ids;
}

}  // namespace herald::control
