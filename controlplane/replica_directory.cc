#include "controlplane/replica_directory.h"

namespace herald::control {
namespace {

constexpr const char* kPrefix = "herald:replica:";

}  // namespace

ReplicaDirectory::ReplicaDirectory(const RedisAddress& address, std::chrono::milliseconds timeout)
    : conn_(address, timeout) {}

Status ReplicaDirectory::announce(const herald::v1::ListNodesResponse& self) {
  if (self.replicas_size() != 1) {
    return Status(ErrorCode::kInternal, "announce: exactly one replica entry expected");
  }
  std::string bytes;
  self.SerializeToString(&bytes);
  auto reply = conn_.command(
      {"SET", kPrefix + self.replicas(0).replica_id(), bytes, "PX", std::to_string(kTtl.count())});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type == RedisValue::Type::kError) {
    return Status(ErrorCode::kUnavailable, "announce: " + reply->str);
  }
  return Status::ok();
}

Result<std::vector<herald::v1::ListNodesResponse>> ReplicaDirectory::all(int64_t now_unix_ms) {
  std::vector<herald::v1::ListNodesResponse> out;
  std::string cursor = "0";
  for (int round = 0; round < 100; ++round) {
    auto reply =
        conn_.command({"SCAN", cursor, "MATCH", std::string(kPrefix) + "*", "COUNT", "100"});
    if (!reply.isOk()) {
      return reply.status();
    }
    if (reply->type != RedisValue::Type::kArray || reply->elements.size() != 2) {
      return Status(ErrorCode::kUnavailable, "replicas: unexpected reply from redis");
    }
    for (const RedisValue& key : reply->elements[1].elements) {
      auto value = conn_.command({"GET", key.str});
      if (!value.isOk()) {
        return value.status();
      }
      herald::v1::ListNodesResponse entry;
      if (value->type != RedisValue::Type::kString || !entry.ParseFromString(value->str) ||
          entry.replicas_size() != 1) {
        continue;  // expired between SCAN and GET, or not ours
      }
      auto* replica = entry.mutable_replicas(0);
      replica->set_healthy(now_unix_ms - replica->last_seen_unix_ms() <= kHealthyWithin.count());
      out.push_back(std::move(entry));
    }
    cursor = reply->elements[0].str;
    if (cursor == "0") {
      break;
    }
  }
  return out;
}

}  // namespace herald::control
