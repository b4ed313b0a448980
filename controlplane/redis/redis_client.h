#pragma once

// A small synchronous Redis client over hiredis: one connection, reconnected on demand, with
// connect and command timeouts so that an unreachable Redis fails calls fast (UNAVAILABLE).

#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/latency_histogram.h"
#include "common/status.h"

struct redisContext;
struct redisReply;

namespace herald::control {

// `redis://HOST:PORT[/DB]`, `HOST:PORT`, or `sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB]`
// (Redis Sentinel: every dial asks the sentinels, in order, where the primary is now).
struct RedisAddress {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string text;                                    // as given, for messages
  std::vector<std::pair<std::string, int>> sentinels;  // empty: host and port are Redis's
  std::string master_name;
};
Result<RedisAddress> parseRedisAddress(const std::string& text);
// The addresses of `--redis A,B`: split at commas, except those between a sentinel:// URL's
// sentinels (before its master name).
std::vector<std::string> splitRedisList(const std::string& list);

// Every Redis round trip of this process, for /metrics: process-wide because connections are
// made in several places (engine, config, replica directory) and all count the same way.
struct RedisCallStats {
  LatencyHistogram latency;              // one observation per command or pipeline
  std::atomic<uint64_t> ok{0};           // replies read (error replies included)
  std::atomic<uint64_t> unavailable{0};  // not connected, timed out or lost mid-call
  std::atomic<uint64_t> error_replies{0};
};
RedisCallStats& redisCallStats();

// hiredis takes its timeouts as a timeval.
timeval toTimeval(std::chrono::milliseconds ms);

// A connection to the address's Redis (through its sentinels: the current primary, checked
// with ROLE), with `timeout` for the connect and for each reply, its database selected.
// nullptr with `*error` set when none could be made.
redisContext* dialRedis(const RedisAddress& address, std::chrono::milliseconds timeout,
                        std::string* error);

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
using RedisReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// A reply as a value tree (what the engine needs of it; nil is kNil).
struct RedisValue {
  enum class Type { kNil, kInteger, kString, kArray, kStatus, kError };
  Type type = Type::kNil;
  long long integer = 0;
  std::string str;
  std::vector<RedisValue> elements;
};
RedisValue toValue(const redisReply* reply);

// The name Redis gives a script (its SHA-1 in hex), for EVALSHA: a call then sends 40 bytes
// instead of the whole script.
std::string redisScriptSha(const std::string& script);
// Redis's NOSCRIPT error: the script is not in its cache (a restart, SCRIPT FLUSH); nothing
// ran, so the call can be repeated with EVAL.
bool isNoScript(const RedisValue& reply);

class RedisConnection {
 public:
  RedisConnection(RedisAddress address, std::chrono::milliseconds timeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Runs one command (connecting first if needed). A Redis error reply comes back as a value
  // of type kError; a lost or unreachable server as kUnavailable (the connection is dropped
  // and the next call dials again). Thread-safe (one command at a time).
  Result<RedisValue> command(const std::vector<std::string>& args);

  // Sends every command at once and reads the replies in order: one round trip. When the
  // connection fails partway, `replies` holds what was read and `status` says why; commands
  // after those may or may not have run.
  struct PipelineResult {
    std::vector<RedisValue> replies;
    Status status;
  };
  PipelineResult pipeline(const std::vector<std::vector<std::string>>& commands);

  const RedisAddress& address() const { return address_; }

 private:
  Status connectLocked();
  // Connected, with a pooled connection that the server closed replaced by a new one.
  Status readyLocked();
  PipelineResult pipelineLocked(const std::vector<std::vector<std::string>>& commands);

  const RedisAddress address_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  redisContext* context_ = nullptr;
};

}  // namespace herald::control
