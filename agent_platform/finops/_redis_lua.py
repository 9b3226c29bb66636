"""The Lua scripts behind the Redis budget store.

Each script runs atomically inside Redis, so check-and-hold over every window of a request is one
indivisible step no matter how many processes call it. Amounts are integers in millionths (micro
EUR, or millionths of a token) so Lua's doubles stay exact (well below 2**53).

Key layout (``P`` is the store prefix, with a ``{finops}`` hash tag so a cluster keeps them in one
slot): ``P ctr:<window>`` hash {limit, committed, reserved}; ``P res:<id>`` hash {status, holds,
expires}; ``P active`` sorted set of active reservation ids scored by expiry (ms).
"""

from __future__ import annotations

__all__ = ["COMMIT", "RELEASE", "RESERVE", "SWEEP"]

_RECLAIM = """
local function reclaim(now, prefix, active)
  local ids = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, 200)
  local count = 0
  for _, rid in ipairs(ids) do
    local rkey = prefix .. 'res:' .. rid
    if redis.call('HGET', rkey, 'status') == 'active' then
      local holds = cjson.decode(redis.call('HGET', rkey, 'holds'))
      for i = 1, #holds, 2 do
        redis.call('HINCRBY', prefix .. 'ctr:' .. holds[i], 'reserved', '-' .. holds[i + 1])
      end
      redis.call('HSET', rkey, 'status', 'expired')
      redis.call('PEXPIRE', rkey, 86400000)
      count = count + 1
    end
    redis.call('ZREM', active, rid)
  end
  return count
end
"""

# KEYS: active, reservation, counters...  ARGV: now, prefix, id, expires, holds_json,
# then (amount, limit) per counter, then the reservation hash's time to live in real ms (the
# clock of ``now`` may be a replayed one; Redis expires keys in real time).
RESERVE = (
    _RECLAIM
    + """
local now = tonumber(ARGV[1])
reclaim(now, ARGV[2], KEYS[1])
local n = #KEYS - 2
for i = 1, n do
  local v = redis.call('HMGET', KEYS[i + 2], 'committed', 'reserved')
  if not v[1] then return {'missing', KEYS[i + 2]} end
  local amount = tonumber(ARGV[4 + 2 * i])
  if amount > 0 and tonumber(v[1]) + tonumber(v[2]) + amount > tonumber(ARGV[5 + 2 * i]) then
    return {'refused', KEYS[i + 2], v[1], v[2], ARGV[5 + 2 * i]}
  end
end
for i = 1, n do
  redis.call('HINCRBY', KEYS[i + 2], 'reserved', ARGV[4 + 2 * i])
  redis.call('HSET', KEYS[i + 2], 'limit', ARGV[5 + 2 * i])
end
redis.call('HSET', KEYS[2], 'status', 'active', 'holds', ARGV[5], 'expires', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[6 + 2 * n])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return {'ok'}
"""
)

# KEYS: active, reservation (or a dummy), counters...  ARGV: now, prefix, id, has_reservation,
# then one charge per counter.  Returns status, late flag, then committed/reserved/limit triples.
COMMIT = (
    _RECLAIM
    + """
reclaim(tonumber(ARGV[1]), ARGV[2], KEYS[1])
local n = #KEYS - 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[i + 2]) == 0 then return {'missing', KEYS[i + 2]} end
end
local late = 1
if ARGV[4] == '1' then
  local status = redis.call('HGET', KEYS[2], 'status')
  if status == 'committed' or status == 'released' or status == 'late_commit' then
    return {'settled', status}
  end
  if status == 'active' then
    local holds = cjson.decode(redis.call('HGET', KEYS[2], 'holds'))
    for i = 1, #holds, 2 do
      redis.call('HINCRBY', ARGV[2] .. 'ctr:' .. holds[i], 'reserved', '-' .. holds[i + 1])
    end
    late = 0
  end
  redis.call('HSET', KEYS[2], 'status', late == 1 and 'late_commit' or 'committed')
  redis.call('PEXPIRE', KEYS[2], 86400000)
  redis.call('ZREM', KEYS[1], ARGV[3])
end
local out = {'ok', tostring(late)}
for i = 1, n do
  redis.call('HINCRBY', KEYS[i + 2], 'committed', ARGV[4 + i])
  local v = redis.call('HMGET', KEYS[i + 2], 'committed', 'reserved', 'limit')
  table.insert(out, v[1]); table.insert(out, v[2]); table.insert(out, v[3])
end
return out
"""
)

# KEYS: active, reservation.  ARGV: now, prefix, id.
RELEASE = (
    _RECLAIM
    + """
reclaim(tonumber(ARGV[1]), ARGV[2], KEYS[1])
local status = redis.call('HGET', KEYS[2], 'status')
if status == false then return {'unknown'} end
if status ~= 'active' then return {status} end
local holds = cjson.decode(redis.call('HGET', KEYS[2], 'holds'))
for i = 1, #holds, 2 do
  redis.call('HINCRBY', ARGV[2] .. 'ctr:' .. holds[i], 'reserved', '-' .. holds[i + 1])
end
redis.call('HSET', KEYS[2], 'status', 'released')
redis.call('PEXPIRE', KEYS[2], 86400000)
redis.call('ZREM', KEYS[1], ARGV[3])
return {'ok'}
"""
)

# KEYS: active.  ARGV: now, prefix.
SWEEP = _RECLAIM + "\nreturn reclaim(tonumber(ARGV[1]), ARGV[2], KEYS[1])\n"
