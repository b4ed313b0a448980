#pragma once
// The Lua scripts the redis stream engine runs, and the key layout they work on. Each script
// runs atomically in Redis: that is what makes offsets, history and pub/sub order agree.
#include <cstdint>
#include <string>

namespace herald::control::redis_scripts {

// Acknowledged writes Redis may lose: a restart from an AOF fsynced every second, or from an
// RDB snapshot, comes back with fewer. Every publication counts in `herald:w`, and each
// replica remembers the highest count it was answered (ARGV "seen"). A count below that
// means Redis lost what it acknowledged: the generation `herald:g` changes, and each stream
// written under an older generation starts a new epoch when next touched, so a client gets
// recovered:false instead of the same offset twice. Both scripts begin with this check
// (ARGV[1] seen, ARGV[2] a fresh generation) and leave `gen` set.
inline constexpr const char* kGenerationCheck = R"lua(
local w = tonumber(redis.call('GET', 'herald:w') or '0')
local gen = redis.call('GET', 'herald:g')
if w < tonumber(ARGV[1]) or not gen then
  gen = ARGV[2]
  redis.call('SET', 'herald:g', gen)
  if w < tonumber(ARGV[1]) then
    redis.call('SET', 'herald:w', ARGV[1])
    redis.call('SET', 'herald:gl', '1')
  end
end
local sgen = redis.call('HGET', KEYS[1], 'gen')
-- A stream without a generation was written before generations existed: stale too once Redis
-- is known to have lost writes (herald:gl).
local stale = (sgen and sgen ~= gen) or (not sgen and redis.call('EXISTS', 'herald:gl') == 1)
)lua";

// Next offset, history and PUBLISH in one step (see the class comment); the publication goes
// out as "OFFSET:EPOCH:WRITES:BYTES", so every replica learns the count. A stream whose epoch
// is missing (new, or lost by Redis) or stale (written before Redis lost writes) gets the
// caller's fresh epoch and loses its history. Returns {offset, epoch, duplicate, writes}.
// ARGV: seen, generation, then (shifted by 2) the publication's arguments.
inline const std::string kPublishScript = std::string(kGenerationCheck) + R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch or stale then
  epoch = ARGV[6]
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
redis.call('HSET', KEYS[1], 'gen', gen)
if ARGV[8] ~= '' then
  -- "OFFSET:EPOCH": a key from before the stream's epoch started anew names nothing in it.
  local prev = redis.call('GET', ARGV[8])
  if prev then
    local colon = string.find(prev, ':', 1, true)
    if colon and string.sub(prev, colon + 1) == epoch then
      return {tonumber(string.sub(prev, 1, colon - 1)), epoch, 1, w}
    end
  end
end
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local size = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
redis.call('HSET', KEYS[1], 'ttl', ttl)
if ARGV[10] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[10]) end
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-1', 'p', ARGV[3])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  else
    redis.call('PERSIST', KEYS[2])
  end
else
  redis.call('DEL', KEYS[2])
end
if ARGV[8] ~= '' then redis.call('SET', ARGV[8], offset .. ':' .. epoch, 'EX', ARGV[9]) end
local writes = redis.call('INCR', 'herald:w')
redis.call('PUBLISH', ARGV[7], offset .. ':' .. epoch .. ':' .. writes .. ':' .. ARGV[3])
return {offset, epoch, 0, writes}
)lua";

// The stream's offset, epoch and TTL with up to ARGV[4] entries from id ARGV[3], read
// together so that the entries and the offset agree; a stale stream (see above) reads as one
// that has no epoch: a client's position in it is not recovered.
inline const std::string kReadScript = std::string(kGenerationCheck) + R"lua(
if stale then return {'0', '', '0', {}} end
local meta = redis.call('HMGET', KEYS[1], 'offset', 'epoch', 'ttl')
local entries = {}
if tonumber(ARGV[4]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], ARGV[3], '+', 'COUNT', ARGV[4])
end
return {meta[1] or '0', meta[2] or '', meta[3] or '0', entries}
)lua";

inline constexpr const char* kKeyPrefix = "herald:s:";
inline constexpr const char* kIdempotencyPrefix = "herald:i:";
// A personal stream nobody sent to for a day is forgotten (as by the memory engine).
inline constexpr int64_t kIdleUserStreamMs = 24 * 3600 * 1000;

}  // namespace herald::control::redis_scripts
