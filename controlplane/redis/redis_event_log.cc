#include "controlplane/redis/redis_event_log.h"

#include <cstdlib>

#include "controlplane/redis/redis_event_scripts.h"

namespace herald::control {
namespace {

namespace scripts = redis_event_scripts;

constexpr const char* kStream = "herald:ev:stream";
constexpr const char* kHolders = "herald:ev:holders";
constexpr const char* kLeader = "herald:ev:leader";
const std::string kAlivePrefix = "herald:ev:alive:";
const std::string kPositionPrefix = "herald:ev:pos:";

Status unexpected(const RedisValue& v, const char* what) {
  if (v.type == RedisValue::Type::kError) {
    return Status(ErrorCode::kUnavailable, std::string(what) + ": redis error: " + v.str);
  }
  return Status(ErrorCode::kUnavailable, std::string(what) + ": unexpected reply from redis");
}

const char* opName(LogItem::Op op) {
  switch (op) {
    case LogItem::Op::kHoldUser:
      return "u+";
    case LogItem::Op::kReleaseUser:
      return "u-";
    case LogItem::Op::kHoldChannel:
      return "c+";
    case LogItem::Op::kReleaseChannel:
      return "c-";
    case LogItem::Op::kClaimNode:
      return "o";
    case LogItem::Op::kEvent:
      break;
  }
  return "e";
}

}  // namespace

RedisEventLog::RedisEventLog(const RedisAddress& address, std::chrono::milliseconds timeout)
    : conn_(address, timeout) {}

Result<ClusterEventLog::Appended> RedisEventLog::append(const std::string& member, uint64_t seq,
                                                        bool known,
                                                        const std::vector<LogItem>& items,
                                                        int64_t time_ms, size_t stream_limit) {
  std::vector<std::string> args = {"EVAL",
                                   scripts::kAppend,
                                   "0",
                                   member,
                                   std::to_string(seq),
                                   known ? "1" : "0",
                                   std::to_string(stream_limit),
                                   std::to_string(time_ms)};
  args.reserve(args.size() + items.size() * 9);
  for (const LogItem& item : items) {
    const PresenceTransition& c = item.change;
    // A claim carries the node's instance where an event has its reason.
    const std::string& reason = item.op == LogItem::Op::kClaimNode ? item.instance : c.reason;
    args.insert(args.end(), {opName(item.op), item.emit ? "1" : "0", presenceChangeName(c.change),
                             c.user, c.channel, c.client, c.node, reason,
                             c.code == 0 ? std::string() : std::to_string(c.code)});
  }
  auto reply = conn_.command(args);
  if (!reply.isOk()) {
    return reply.status();
  }
  const RedisValue& v = reply.value();
  if (v.type != RedisValue::Type::kArray || v.elements.size() != 3) {
    return unexpected(v, "events append");
  }
  Appended out;
  out.added = static_cast<size_t>(v.elements[0].integer);
  out.lost = v.elements[2].integer != 0;
  return out;
}

Result<bool> RedisEventLog::heartbeat(const std::string& member, std::chrono::milliseconds ttl) {
  auto result =
      conn_.pipeline({{"SET", kAlivePrefix + member, "1", "PX", std::to_string(ttl.count())},
                      {"SISMEMBER", "herald:ev:known", member}});
  if (!result.status.isOk()) {
    return result.status;
  }
  if (result.replies.size() != 2 || result.replies[1].type != RedisValue::Type::kInteger) {
    return unexpected(result.replies.empty() ? RedisValue() : result.replies.back(),
                      "events heartbeat");
  }
  return result.replies[1].integer == 1;
}

Result<std::vector<std::string>> RedisEventLog::lostMembers() {
  auto holders = conn_.command({"SMEMBERS", kHolders});
  if (!holders.isOk()) {
    return holders.status();
  }
  if (holders->type != RedisValue::Type::kArray) {
    return unexpected(holders.value(), "events members");
  }
  std::vector<std::string> out;
  if (holders->elements.empty()) {
    return out;
  }
  std::vector<std::vector<std::string>> checks;
  for (const RedisValue& m : holders->elements) {
    checks.push_back({"EXISTS", kAlivePrefix + m.str});
  }
  auto alive = conn_.pipeline(checks);
  if (!alive.status.isOk()) {
    return alive.status;
  }
  for (size_t i = 0; i < alive.replies.size() && i < holders->elements.size(); ++i) {
    if (alive.replies[i].type == RedisValue::Type::kInteger && alive.replies[i].integer == 0) {
      out.push_back(holders->elements[i].str);
    }
  }
  return out;
}

Result<int64_t> RedisEventLog::sweep(const std::string& member, const Sweep& how) {
  auto reply =
      conn_.command({"EVAL", scripts::kSweep, "0", member, how.reason, std::to_string(how.time_ms),
                     std::to_string(how.chunk), how.emit_users ? "1" : "0",
                     how.emit_channels ? "1" : "0", how.emit_clients ? "1" : "0",
                     how.emit_subscriptions ? "1" : "0", std::to_string(how.stream_limit)});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kInteger) {
    return unexpected(reply.value(), "events sweep");
  }
  return static_cast<int64_t>(reply->integer);
}

Result<bool> RedisEventLog::lead(const std::string& member, std::chrono::milliseconds ttl) {
  auto reply =
      conn_.command({"EVAL", scripts::kLead, "1", kLeader, member, std::to_string(ttl.count())});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kInteger) {
    return unexpected(reply.value(), "events lease");
  }
  return reply->integer == 1;
}

void RedisEventLog::resign(const std::string& member) {
  (void)conn_.command({"EVAL", scripts::kResign, "1", kLeader, member});
}

Result<std::string> RedisEventLog::position(const std::string& receiver) {
  auto reply = conn_.command({"GET", kPositionPrefix + receiver});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type == RedisValue::Type::kNil) {
    return std::string("0-0");
  }
  if (reply->type != RedisValue::Type::kString) {
    return unexpected(reply.value(), "events position");
  }
  return reply->str;
}

Status RedisEventLog::commit(const std::string& member, const std::string& receiver,
                             const std::string& id) {
  auto reply = conn_.command(
      {"EVAL", scripts::kCommit, "2", kPositionPrefix + receiver, kLeader, id, member});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kInteger) {
    return unexpected(reply.value(), "events commit");
  }
  return Status::ok();
}

bool eventFromStreamEntry(const RedisValue& entry, LoggedEvent* logged) {
  herald::v1::Event* event = &logged->event;
  if (entry.type != RedisValue::Type::kArray || entry.elements.size() != 2 ||
      entry.elements[1].type != RedisValue::Type::kArray) {
    return false;
  }
  event->set_id(entry.elements[0].str);
  const auto& fields = entry.elements[1].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name.size() != 1) {
      continue;
    }
    switch (name[0]) {
      case 'y':
        event->set_type(value);
        break;
      case 't':
        event->set_time_ms(std::strtoll(value.c_str(), nullptr, 10));
        break;
      case 'u':
        event->set_user(value);
        break;
      case 'h':
        event->set_channel(value);
        break;
      case 'k':
        event->set_client(value);
        break;
      case 'n':
        event->set_node(value);
        break;
      case 'r':
        event->set_reason(value);
        break;
      case 'x':
        event->set_code(static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10)));
        break;
      case 's':
        logged->seq = std::strtoull(value.c_str(), nullptr, 10);
        break;
      default:
        break;
    }
  }
  return !event->type().empty();
}

Result<std::vector<LoggedEvent>> RedisEventLog::read(const std::string& after, size_t count) {
  auto reply = conn_.command({"XRANGE", kStream, "(" + after, "+", "COUNT", std::to_string(count)});
  if (!reply.isOk()) {
    return reply.status();
  }
  if (reply->type != RedisValue::Type::kArray) {
    return unexpected(reply.value(), "events read");
  }
  std::vector<LoggedEvent> out;
  out.reserve(reply->elements.size());
  for (const RedisValue& entry : reply->elements) {
    LoggedEvent event;
    if (eventFromStreamEntry(entry, &event)) {
      out.push_back(std::move(event));
    }
  }
  return out;
}

Status RedisEventLog::trim(const std::string& upto) {
  // MINID keeps ids at or above it: the one right after `upto`.
  const size_t dash = upto.find('-');
  if (dash == std::string::npos) {
    return Status(ErrorCode::kInternal, "not a stream id: " + upto);
  }
  const std::string next = upto.substr(0, dash) + "-" +
                           std::to_string(std::strtoull(upto.c_str() + dash + 1, nullptr, 10) + 1);
  auto reply = conn_.command({"XTRIM", kStream, "MINID", next});
  if (!reply.isOk()) {
    return reply.status();
  }
  return reply->type == RedisValue::Type::kInteger ? Status::ok()
                                                   : unexpected(reply.value(), "events trim");
}

}  // namespace herald::control
