#pragma once
// The Lua scripts behind RedisEventLog (docs/hooks.md "Events with several replicas"). Keys:
//   herald:ev:stream            the events, a Redis stream (its ids are the events' ids)
//   herald:ev:u:<user>          members holding the user; herald:ev:c:<channel> likewise
//   herald:ev:n:<node>          the node's connections as reported: c:<client> = user, and
//                               @o = the member reporting the node, @i = its instance
//   herald:ev:ns:<node>         their subscriptions: "<client>\n<channel>" = user
//   herald:ev:m:<member>:u|c|n  what a member holds and the nodes it reports (for its loss)
//   herald:ev:known             members whose holds the cluster keeps
//   herald:ev:holders           members that may still hold something (swept when lost)
//   herald:ev:applied           member -> last seq applied
//   herald:ev:alive:<member>    present while the member heartbeats
//   herald:ev:leader            the member delivering; herald:ev:pos:<receiver> its position
//   herald:ev:seq               the number of the last event (the events' field s)
// Keys are built inside the scripts (user and channel names): one Redis, not Redis Cluster.

namespace herald::control::redis_event_scripts {

// Every event gets a field s from herald:ev:seq (one more per event), so that a reader sees
// the events it missed when the stream's bound (MAXLEN ~ limit: the oldest go) overtook it.
//
// ARGV: member, seq, known (1/0), stream limit, time_ms, then 9 per item: op (u+ u- c+ c- e,
// or o: the member reports node `node` of instance `reason` from now on), emit (1/0), type,
// user, channel, client, node, reason, code. Returns {added, 0, lost}.
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
local limit = ARGV[4]
local fields = {'u', 'h', 'k', 'n', 'r', 'x'}
local added = 0
local i = 6
while i + 8 <= #ARGV do
  local op = ARGV[i]
  local fire = ARGV[i + 1] == '1'
  if op == 'o' then
    local node = ARGV[i + 6]
    local roster = 'herald:ev:n:' .. node
    local owner = redis.call('HGET', roster, '@o')
    -- A late claim (its takeover failed at the node's Hello): not over a live member that
    -- took the node meanwhile.
    if not owner or owner == m or redis.call('EXISTS', 'herald:ev:alive:' .. owner) == 0 then
      if owner and owner ~= m then
        redis.call('SREM', 'herald:ev:m:' .. owner .. ':n', node)
      end
      redis.call('HSET', roster, '@o', m, '@i', ARGV[i + 7])
      redis.call('SADD', 'herald:ev:m:' .. m .. ':n', node)
    end
    fire = false
  elseif op == 'e' then
    -- A connection's event: only from the member that reports its node (a member that lost
    -- the node to another is late), and kept in the node's roster for the next one.
    local kind = ARGV[i + 2]
    local node = ARGV[i + 6]
    local roster = 'herald:ev:n:' .. node
    local owner = redis.call('HGET', roster, '@o')
    if owner and owner ~= m then
      fire = false
    else
      if not owner then
        redis.call('HSET', roster, '@o', m)
        redis.call('SADD', 'herald:ev:m:' .. m .. ':n', node)
      end
      -- Sent only when the roster changes: a connection reported twice (again after a
      -- reconcile, or closed by a sweep first) makes its events once.
      local client = ARGV[i + 5]
      local subscription = client .. '\n' .. ARGV[i + 4]
      local changed = 0
      if kind == 'client.connected' then
        changed = redis.call('HSET', roster, 'c:' .. client, ARGV[i + 3])
      elseif kind == 'client.disconnected' then
        changed = redis.call('HDEL', roster, 'c:' .. client)
      elseif kind == 'subscription.added' then
        changed = redis.call('HSET', 'herald:ev:ns:' .. node, subscription, ARGV[i + 3])
      elseif kind == 'subscription.removed' then
        changed = redis.call('HDEL', 'herald:ev:ns:' .. node, subscription)
      end
      fire = fire and changed == 1
    end
  else
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
    local entry = {'y', ARGV[i + 2], 't', ARGV[5], 's', redis.call('INCR', 'herald:ev:seq')}
    for j = 1, 6 do
      local v = ARGV[i + 2 + j]
      if v ~= '' then
        entry[#entry + 1] = fields[j]
        entry[#entry + 1] = v
      end
    end
    redis.call('XADD', 'herald:ev:stream', 'MAXLEN', '~', limit, '*', unpack(entry))
    added = added + 1
  end
  i = i + 9
end
return {added, 0, 0}
)lua";

// ARGV: member, reason, time_ms, chunk, emit user.offline, channel.vacated,
// client.disconnected, subscription.removed (1/0 each), stream limit. The connections of the
// nodes it reported end first (each one's subscriptions, then it), then its users and
// channels. Returns how many nodes or holds remain, or -1 when the member is alive again.
inline constexpr const char* kSweep = R"lua(
local m = ARGV[1]
if redis.call('EXISTS', 'herald:ev:alive:' .. m) == 1 then return -1 end
redis.call('SREM', 'herald:ev:known', m)
local chunk = tonumber(ARGV[4])
local function add(entry)
  entry[#entry + 1] = 's'
  entry[#entry + 1] = redis.call('INCR', 'herald:ev:seq')
  redis.call('XADD', 'herald:ev:stream', 'MAXLEN', '~', ARGV[9], '*', unpack(entry))
end
local nodes = 'herald:ev:m:' .. m .. ':n'
local budget = chunk
for _, node in ipairs(redis.call('SMEMBERS', nodes)) do
  if budget <= 0 then break end
  local roster = 'herald:ev:n:' .. node
  local subscriptions = 'herald:ev:ns:' .. node
  if redis.call('HGET', roster, '@o') ~= m then
    redis.call('SREM', nodes, node)  -- another member reports it now
  else
    local subs = redis.call('HRANDFIELD', subscriptions, budget, 'WITHVALUES')
    for j = 1, #subs, 2 do
      local client, channel = string.match(subs[j], '^(.-)\n(.*)$')
      if client and ARGV[8] == '1' then
        add({'y', 'subscription.removed', 't', ARGV[3], 'u', subs[j + 1], 'h', channel,
             'k', client, 'n', node, 'r', ARGV[2]})
      end
      redis.call('HDEL', subscriptions, subs[j])
      budget = budget - 1
    end
    if redis.call('EXISTS', subscriptions) == 0 and budget > 0 then
      local fields = redis.call('HRANDFIELD', roster, budget + 2, 'WITHVALUES')
      for j = 1, #fields, 2 do
        if string.sub(fields[j], 1, 2) == 'c:' then
          if ARGV[7] == '1' then
            add({'y', 'client.disconnected', 't', ARGV[3], 'u', fields[j + 1],
                 'k', string.sub(fields[j], 3), 'n', node, 'x', '1006', 'r', ARGV[2]})
          end
          redis.call('HDEL', roster, fields[j])
          budget = budget - 1
        end
      end
      local meta = redis.call('HEXISTS', roster, '@o') + redis.call('HEXISTS', roster, '@i')
      if redis.call('HLEN', roster) <= meta then
        redis.call('DEL', roster)
        redis.call('SREM', nodes, node)
      end
    end
  end
end
local pending = redis.call('SCARD', nodes)
if pending > 0 then return pending end
local remaining = 0
local kinds = {{'u', 'user.offline', 'u', ARGV[5]}, {'c', 'channel.vacated', 'h', ARGV[6]}}
for _, kind in ipairs(kinds) do
  local index = 'herald:ev:m:' .. m .. ':' .. kind[1]
  for _, name in ipairs(redis.call('SPOP', index, chunk)) do
    local key = 'herald:ev:' .. kind[1] .. ':' .. name
    if redis.call('SREM', key, m) == 1 and redis.call('EXISTS', key) == 0 and
       kind[4] == '1' then
      add({'y', kind[2], 't', ARGV[3], kind[3], name, 'r', ARGV[2]})
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

// ARGV: member, node, instance, always (1/0). Makes the member the one reporting the node;
// returns {0} when it already was (unless `always`), else {1, instance, roster,
// subscriptions} as the cluster last knew them (HGETALL replies; empty when nobody reported
// the node).
inline constexpr const char* kTakeOver = R"lua(
local roster = 'herald:ev:n:' .. ARGV[2]
local owner = redis.call('HGET', roster, '@o')
local instance = redis.call('HGET', roster, '@i') or ''
redis.call('HSET', roster, '@o', ARGV[1], '@i', ARGV[3])
redis.call('SADD', 'herald:ev:m:' .. ARGV[1] .. ':n', ARGV[2])
redis.call('SADD', 'herald:ev:holders', ARGV[1])
if owner == ARGV[1] and ARGV[4] ~= '1' then return {0} end
if owner and owner ~= ARGV[1] then
  redis.call('SREM', 'herald:ev:m:' .. owner .. ':n', ARGV[2])
end
return {1, instance, redis.call('HGETALL', roster), redis.call('HGETALL', 'herald:ev:ns:' .. ARGV[2])}
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

// KEYS[1] a receiver's position, KEYS[2] the lease; ARGV: a stream id, the member. Moves
// the position forward only, and only for the member delivering (a late batch of a member
// that lost the lease does not move it).
inline constexpr const char* kCommit = R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
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
