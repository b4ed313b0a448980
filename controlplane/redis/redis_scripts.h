#pragma once
// The Lua scripts the redis stream engine runs, and the key layout they work on. Each script
// runs atomically in Redis: that is what makes offsets, history and pub/sub order agree.
#include <cstdint>

namespace herald::control::redis_scripts {

// Next offset, history and PUBLISH in one step (see the class comment). A stream whose epoch
// is missing (new, or lost by Redis) gets the caller's fresh epoch and loses any stale history.
inline constexpr const char* kPublishScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[4]
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
if ARGV[6] ~= '' then
  local prev = redis.call('GET', ARGV[6])
  if prev then return {tonumber(prev), epoch, 1} end
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local size = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'ttl', ttl)
if ARGV[8] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[8]) end
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-1', 'p', ARGV[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  else
    redis.call('PERSIST', KEYS[2])
  end
else
  redis.call('DEL', KEYS[2])
end
if ARGV[6] ~= '' then redis.call('SET', ARGV[6], offset, 'EX', ARGV[7]) end
redis.call('PUBLISH', ARGV[5], offset .. ':' .. epoch .. ':' .. ARGV[1])
return {offset, epoch, 0}
)lua";

// The stream's offset, epoch and TTL with up to ARGV[2] entries from id ARGV[1], read
// together so that the entries and the offset agree.
inline constexpr const char* kReadScript = R"lua(
local meta = redis.call('HMGET', KEYS[1], 'offset', 'epoch', 'ttl')
local entries = {}
if tonumber(ARGV[2]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
end
return {meta[1] or '0', meta[2] or '', meta[3] or '0', entries}
)lua";

inline constexpr const char* kKeyPrefix = "herald:s:";
inline constexpr const char* kIdempotencyPrefix = "herald:i:";
// A personal stream nobody sent to for a day is forgotten (as by the memory engine).
inline constexpr int64_t kIdleUserStreamMs = 24 * 3600 * 1000;

}  // namespace herald::control::redis_scripts
