#pragma once
// The Lua scripts behind RedisEventLog (docs/hooks.md "Events with several replicas"). Keys:
//   herald:ev:stream            the events, a Redis stream (its ids are the events' ids)
//   herald:ev:u:<user>          members holding the user; herald:ev:c:<channel> likewise
//   herald:ev:m:<member>:u|c    what a member holds (so that its loss can be swept)
//   herald:ev:known             members whose holds the cluster keeps
//   herald:ev:holders           members that may still hold something (swept when lost)
//   herald:ev:applied           member -> last seq applied
//   herald:ev:alive:<member>    present while the member heartbeats
//   herald:ev:leader            the member delivering; herald:ev:pos:<receiver> its position
// Keys are built inside the scripts (user and channel names): one Redis, not Redis Cluster.

namespace herald::control::redis_event_scripts {

// ARGV: member, seq, known (1/0), stream limit, time_ms, then 9 per item: op (u+ u- c+ c- e),
// emit (1/0), type, user, channel, client, node, reason, code. Returns {added, dropped, lost}.
inline constexpr const char* kAppend = R"lua(
local m = ARGV[1]
if ARGV[3] == '1' and redis.call('SISMEMBER', 'herald:ev:known', m) == 0 then
  return {0, 0, 1}
end
local seq = tonumber(ARGV[2])
local applied = tonumber(redis.call('HGET', 'herald:ev:applied', m) or '0')
if seq <= applied then return {0, 0, 0} end
redis.call('HSET', 'herald:ev:applied', m, seq)
redis.call('SADD', 'herald:ev:known', m)
redis.call('SADD', 'herald:ev:holders', m)
local limit = tonumber(ARGV[4])
local len = redis.call('XLEN', 'herald:ev:stream')
local fields = {'u', 'h', 'k', 'n', 'r', 'x'}
local added, dropped = 0, 0
local i = 6
while i + 8 <= #ARGV do
  local op = ARGV[i]
  local fire = ARGV[i + 1] == '1'
  if op ~= 'e' then
    local what = string.sub(op, 1, 1)
    local name = ARGV[i + 3]
    if what == 'c' then name = ARGV[i + 4] end
    local key = 'herald:ev:' .. what .. ':' .. name
    local index = 'herald:ev:m:' .. m .. ':' .. what
    local changed
    if string.sub(op, 2, 2) == '+' then
      changed = redis.call('SADD', key, m) == 1 and redis.call('SCARD', key) == 1
      redis.call('SADD', index, name)
    else
      changed = redis.call('SREM', key, m) == 1 and redis.call('EXISTS', key) == 0
      redis.call('SREM', index, name)
    end
    fire = fire and changed
  end
  if fire then
    if len >= limit then
      dropped = dropped + 1
    else
      local entry = {'y', ARGV[i + 2], 't', ARGV[5]}
      for j = 1, 6 do
        local v = ARGV[i + 2 + j]
        if v ~= '' then
          entry[#entry + 1] = fields[j]
          entry[#entry + 1] = v
        end
      end
      redis.call('XADD', 'herald:ev:stream', '*', unpack(entry))
      len = len + 1
      added = added + 1
    end
  end
  i = i + 9
end
return {added, dropped, 0}
)lua";

// ARGV: member, reason, time_ms, chunk, emit users (1/0), emit channels (1/0), stream limit.
// Returns how many holds remain, or -1 when the member is alive again.
inline constexpr const char* kSweep = R"lua(
local m = ARGV[1]
if redis.call('EXISTS', 'herald:ev:alive:' .. m) == 1 then return -1 end
redis.call('SREM', 'herald:ev:known', m)
local chunk = tonumber(ARGV[4])
local limit = tonumber(ARGV[7])
local len = redis.call('XLEN', 'herald:ev:stream')
local remaining = 0
local kinds = {{'u', 'user.offline', 'u', ARGV[5]}, {'c', 'channel.vacated', 'h', ARGV[6]}}
for _, kind in ipairs(kinds) do
  local index = 'herald:ev:m:' .. m .. ':' .. kind[1]
  for _, name in ipairs(redis.call('SPOP', index, chunk)) do
    local key = 'herald:ev:' .. kind[1] .. ':' .. name
    if redis.call('SREM', key, m) == 1 and redis.call('EXISTS', key) == 0 and
       kind[4] == '1' and len < limit then
      redis.call('XADD', 'herald:ev:stream', '*', 'y', kind[2], 't', ARGV[3], kind[3], name,
                 'r', ARGV[2])
      len = len + 1
    end
  end
  remaining = remaining + redis.call('SCARD', index)
end
if remaining == 0 then
  redis.call('SREM', 'herald:ev:holders', m)
  redis.call('HDEL', 'herald:ev:applied', m)
end
return remaining
)lua";

// KEYS[1] the lease; ARGV: member, ttl ms. 1: the member holds it.
inline constexpr const char* kLead = R"lua(
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua";

inline constexpr const char* kResign = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
)lua";

// KEYS[1] a receiver's position; ARGV[1] a stream id. Moves it forward only.
inline constexpr const char* kCommit = R"lua(
local function parse(id)
  local ms, n = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms or '0'), tonumber(n or '0')
end
local cms, cn = parse(redis.call('GET', KEYS[1]) or '0-0')
local ms, n = parse(ARGV[1])
if ms > cms or (ms == cms and n > cn) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
)lua";

}  // namespace herald::control::redis_event_scripts
