#include "controlplane/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
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

namespace {

// `sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]`
Result<RedisAddress> parseSentinelAddress(const std::string& text, std::string rest) {
  RedisAddress out;
  out.text = text;
  const auto bad = [&](const std::string& why) {
    return Status(ErrorCode::kBadRequest, "redis address '" + text + "': " + why);
  };
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) {
    return bad("sentinel:// needs /MASTER_NAME after the sentinels");
  }
  std::string path = rest.substr(slash + 1);
  rest = rest.substr(0, slash);
  if (const size_t db_slash = path.find('/'); db_slash != std::string::npos) {
    const std::string db = path.substr(db_slash + 1);
    if (db.empty() || db.size() > 2 || db.find_first_not_of("0123456789") != std::string::npos) {
      return bad("database must be a number 0..99");
    }
    out.db = std::atoi(db.c_str());
    path = path.substr(0, db_slash);
  }
  if (path.empty() || path.size() > 128 || path.find_first_of(" \r\n") != std::string::npos) {
    return bad("the master name is empty or not a name");
  }
  out.master_name = path;
  size_t start = 0;
  while (start <= rest.size()) {
    const size_t comma = rest.find(',', start);
    const std::string one = rest.substr(start, comma == std::string::npos ? comma : comma - start);
    const size_t colon = one.rfind(':');
    int port = 26379;
    if (colon != std::string::npos && !parsePort(one.substr(colon + 1), &port)) {
      return bad("bad sentinel port");
    }
    const std::string host = colon == std::string::npos ? one : one.substr(0, colon);
    if (host.empty()) {
      return bad("a sentinel's host is empty");
    }
    out.sentinels.emplace_back(host, port);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  if (out.sentinels.size() > 16) {
    return bad("at most 16 sentinels");
  }
  return out;
}

}  // namespace

Result<RedisAddress> parseRedisAddress(const std::string& text) {
  RedisAddress out;
  out.text = text;
  std::string rest = text;
  const std::string scheme = "redis://";
  const std::string sentinel = "sentinel://";
  if (rest.compare(0, sentinel.size(), sentinel) == 0) {
    return parseSentinelAddress(text, rest.substr(sentinel.size()));
  }
  if (rest.compare(0, scheme.size(), scheme) == 0) {
    rest = rest.substr(scheme.size());
  } else if (rest.find("://") != std::string::npos) {
    return Status(ErrorCode::kBadRequest, "redis address '" + text +
                                              "': only redis:// and sentinel:// (no TLS, no "
                                              "password) are supported");
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

std::vector<std::string> splitRedisList(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (list.compare(start, 11, "sentinel://") == 0) {
      const size_t slash = list.find('/', start + 11);
      comma = slash == std::string::npos ? std::string::npos : list.find(',', slash);
    }
    const std::string item =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      out.push_back(item);
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
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

namespace {

redisContext* dialOne(const std::string& host, int port, std::chrono::milliseconds timeout,
                      std::string* error) {
  redisContext* ctx = redisConnectWithTimeout(host.c_str(), port, toTimeval(timeout));
  if (ctx == nullptr || ctx->err != 0) {
    *error = host + ":" + std::to_string(port) + ": " +
             (ctx != nullptr ? std::string(ctx->errstr) : std::string("out of memory"));
    if (ctx != nullptr) {
      redisFree(ctx);
    }
    return nullptr;
  }
  redisSetTimeout(ctx, toTimeval(timeout));
  redisEnableKeepAlive(ctx);
  return ctx;
}

// Where the sentinels say the primary is: the first sentinel that answers decides.
bool askSentinels(const RedisAddress& address, std::chrono::milliseconds timeout, std::string* host,
                  int* port, std::string* error) {
  for (const auto& [sentinel_host, sentinel_port] : address.sentinels) {
    std::string why;
    redisContext* ctx = dialOne(sentinel_host, sentinel_port, timeout, &why);
    if (ctx == nullptr) {
      *error = "sentinel " + why;
      continue;
    }
    RedisReplyPtr reply(static_cast<redisReply*>(
        redisCommand(ctx, "SENTINEL get-master-addr-by-name %s", address.master_name.c_str())));
    redisFree(ctx);
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[1]->type == REDIS_REPLY_STRING) {
      *host = std::string(reply->element[0]->str, reply->element[0]->len);
      *port = std::atoi(reply->element[1]->str);
      return true;
    }
    *error = "sentinel " + sentinel_host + ":" + std::to_string(sentinel_port) +
             " does not know master '" + address.master_name + "'";
  }
  return false;
}

}  // namespace

redisContext* dialRedis(const RedisAddress& address, std::chrono::milliseconds timeout,
                        std::string* error) {
  std::string host = address.host;
  int port = address.port;
  if (!address.sentinels.empty() && !askSentinels(address, timeout, &host, &port, error)) {
    return nullptr;
  }
  redisContext* ctx = dialOne(host, port, timeout, error);
  if (ctx == nullptr) {
    return nullptr;
  }
  if (!address.sentinels.empty()) {
    // Just after a failover a sentinel may still name the old primary, come back as a
    // replica: writing there would fail, so it is not taken.
    RedisReplyPtr role(static_cast<redisReply*>(redisCommand(ctx, "ROLE")));
    if (role == nullptr || role->type != REDIS_REPLY_ARRAY || role->elements == 0 ||
        role->element[0]->type != REDIS_REPLY_STRING ||
        std::string(role->element[0]->str, role->element[0]->len) != "master") {
      *error = host + ":" + std::to_string(port) + " is not the primary (yet)";
      redisFree(ctx);
      return nullptr;
    }
  }
  if (address.db != 0) {
    RedisReplyPtr reply(static_cast<redisReply*>(redisCommand(ctx, "SELECT %d", address.db)));
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      *error = host + ":" + std::to_string(port) + ": SELECT failed";
      redisFree(ctx);
      return nullptr;
    }
  }
  return ctx;
}

Status RedisConnection::connectLocked() {
  std::string why;
  context_ = dialRedis(address_, timeout_, &why);
  if (context_ == nullptr) {
    return Status(ErrorCode::kUnavailable, "redis " + address_.text + ": " + why);
  }
  return Status::ok();
}

std::string redisScriptSha(const std::string& script) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(script.data(), script.size(), digest, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

bool isNoScript(const RedisValue& reply) {
  return reply.type == RedisValue::Type::kError && reply.str.compare(0, 8, "NOSCRIPT") == 0;
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
