#include "controlplane/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

#include "common/clock.h"

namespace herald::control {
namespace {

bool parsePort(const std::string& text, int* port) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::atoi(text.c_str());
  return *port > 0 && *port < 65536;
}

}  // namespace

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

void ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

Result<RedisAddress> parseRedisAddress(const std::string& text) {
  RedisAddress out;
  out.text = text;
  std::string rest = text;
  const std::string scheme = "redis://";
  if (rest.compare(0, scheme.size(), scheme) == 0) {
    rest = rest.substr(scheme.size());
  } else if (rest.find("://") != std::string::npos) {
    return Status(ErrorCode::kBadRequest,
                  "redis address '" + text + "': only redis:// (no TLS, no password) is supported");
  }
  if (rest.find('@') != std::string::npos) {
    return Status(ErrorCode::kBadRequest,
                  "redis address '" + text + "': passwords are not supported");
  }
  if (const size_t slash = rest.find('/'); slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    if (db.empty() || db.size() > 2 || db.find_first_not_of("0123456789") != std::string::npos) {
      return Status(ErrorCode::kBadRequest,
                    "redis address '" + text + "': database must be a number 0..99");
    }
    out.db = std::atoi(db.c_str());
    rest = rest.substr(0, slash);
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    out.host = rest;
  } else {
    out.host = rest.substr(0, colon);
    if (!parsePort(rest.substr(colon + 1), &out.port)) {
      return Status(ErrorCode::kBadRequest, "redis address '" + text + "': bad port");
    }
  }
  if (out.host.empty()) {
    return Status(ErrorCode::kBadRequest, "redis address '" + text + "': host is empty");
  }
  return out;
}

RedisValue toValue(const redisReply* reply) {
  RedisValue v;
  if (reply == nullptr) {
    return v;
  }
  switch (reply->type) {
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::kError;
      v.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      v.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        v.elements.push_back(toValue(reply->element[i]));
      }
      break;
    default:
      break;
  }
  return v;
}

RedisConnection::RedisConnection(RedisAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) {
    redisFree(context_);
  }
}

Status RedisConnection::connectLocked() {
  context_ = redisConnectWithTimeout(address_.host.c_str(), address_.port, toTimeval(timeout_));
  if (context_ == nullptr || context_->err != 0) {
    std::string why = context_ != nullptr ? context_->errstr : "out of memory";
    if (context_ != nullptr) {
      redisFree(context_);
      context_ = nullptr;
    }
    return Status(ErrorCode::kUnavailable, "redis " + address_.text + ": " + why);
  }
  redisSetTimeout(context_, toTimeval(timeout_));
  redisEnableKeepAlive(context_);
  if (address_.db != 0) {
    auto* reply = static_cast<redisReply*>(redisCommand(context_, "SELECT %d", address_.db));
    RedisReplyPtr owned(reply);
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      redisFree(context_);
      context_ = nullptr;
      return Status(ErrorCode::kUnavailable, "redis " + address_.text + ": SELECT failed");
    }
  }
  return Status::ok();
}

Result<RedisValue> RedisConnection::command(const std::vector<std::string>& args) {
  // A pipeline of one: a command lost or timed out after sending is not sent again.
  PipelineResult result = pipeline({args});
  if (!result.status.isOk()) {
    return result.status;
  }
  return std::move(result.replies.front());
}

Status RedisConnection::readyLocked() {
  if (context_ != nullptr) {
    // A pooled connection whose server went away (a Redis restart) reads EOF or an error
    // without blocking: drop it and dial before sending, rather than resend after a failure.
    char byte;
    const ssize_t n = ::recv(context_->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
      redisFree(context_);
      context_ = nullptr;
    }
  }
  return context_ == nullptr ? connectLocked() : Status::ok();
}

RedisCallStats& redisCallStats() {
  static RedisCallStats stats;
  return stats;
}

RedisConnection::PipelineResult RedisConnection::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t start = steadyMicros();
  PipelineResult result = pipelineLocked(commands);
  RedisCallStats& stats = redisCallStats();
  stats.latency.observeMicros(steadyMicros() - start);
  if (!result.status.isOk()) {
    stats.unavailable.fetch_add(1, std::memory_order_relaxed);
    return result;
  }
  stats.ok.fetch_add(1, std::memory_order_relaxed);
  for (const auto& reply : result.replies) {
    if (reply.type == RedisValue::Type::kError) {
      stats.error_replies.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return result;
}

RedisConnection::PipelineResult RedisConnection::pipelineLocked(
    const std::vector<std::vector<std::string>>& commands) {
  PipelineResult result;
  if (Status s = readyLocked(); !s.isOk()) {
    result.status = s;
    return result;
  }
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      std::string why = context_->errstr;
      redisFree(context_);
      context_ = nullptr;
      result.status = Status(ErrorCode::kUnavailable, "redis " + address_.text + ": " + why);
      return result;
    }
    RedisReplyPtr reply(static_cast<redisReply*>(raw));
    result.replies.push_back(toValue(reply.get()));
  }
  return result;
}

}  // namespace herald::control
