"""The waiting room's Lua scripts: every multi-step change to the line is one atomic script.

All keys share one hash tag (the prefix is ``{...}``), so the scripts also run on Redis
Cluster. KEYS, in order: waiting (zset: ticket -> place), seen (zset: ticket -> last poll),
active (zset: admitted ticket -> last activity), admit_log (zset: ticket -> admission time, the
last minute only), seq (arrival counter), admitted_total (counter), inventory (hash: remaining
appointments and when they were counted). Ticket hashes live at ``<prefix>:t:<ticket>`` in the
same slot.

The scripts read the inventory themselves and return it with the ticket's status, so a poll is
one round trip: nobody is let in once it says nothing is left.

Every operation on a hot path is O(log N) in the length of the line: ZRANK, ZADD, ZPOPMIN and
range removals whose work is bounded per call. Nothing scans the line.
"""

from __future__ import annotations

_PRELUDE = r"""
local W, SEEN, ACTIVE, LOG, SEQ, TOTAL = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local INVENTORY = KEYS[7]

local function tkey(prefix, id) return prefix .. ':t:' .. id end

-- Let people in if the limits allow, dropping those who stopped polling. Returns how many.
local function advance(prefix, now, idle, max_active, per_minute, can_admit, ttl)
  redis.call('ZREMRANGEBYSCORE', ACTIVE, '-inf', '(' .. (now - idle))
  redis.call('ZREMRANGEBYSCORE', LOG, '-inf', '(' .. (now - 60))
  -- Abandoned tickets leave the line, a bounded number per call, oldest first.
  local stale = redis.call('ZRANGEBYSCORE', SEEN, '-inf', '(' .. (now - idle), 'LIMIT', 0, 50)
  for _, id in ipairs(stale) do
    redis.call('ZREM', W, id)
    redis.call('ZREM', SEEN, id)
    redis.call('HSET', tkey(prefix, id), 'state', 'expired')
  end
  -- Sold out: nobody is let in, not even the first in line.
  if can_admit == 0 or redis.call('HGET', INVENTORY, 'remaining') == '0' then return 0 end
  local budget = math.min(max_active - redis.call('ZCARD', ACTIVE),
                          per_minute - redis.call('ZCARD', LOG), 100)
  local admitted, pops = 0, 0
  while admitted < budget and pops < budget + 100 do
    local head = redis.call('ZPOPMIN', W)
    if #head == 0 then break end
    pops = pops + 1
    local id = head[1]
    local seen = tonumber(redis.call('ZSCORE', SEEN, id) or '-1')
    redis.call('ZREM', SEEN, id)
    local key = tkey(prefix, id)
    if seen >= now - idle and redis.call('HGET', key, 'state') == 'waiting' then
      local n = redis.call('INCR', TOTAL)
      redis.call('HSET', key, 'state', 'admitted', 'admitted_at', now, 'admitted_seq', n)
      redis.call('EXPIRE', key, ttl)
      redis.call('ZADD', ACTIVE, now, id)
      redis.call('ZADD', LOG, now, id)
      admitted = admitted + 1
    elseif redis.call('EXISTS', key) == 1 then
      redis.call('HSET', key, 'state', 'expired')
    end
  end
  return admitted
end

-- state, rank, waiting, active, admitted last minute, binding, admitted_at, remaining, counted at
local function status_of(prefix, id)
  local key = tkey(prefix, id)
  local fields = redis.call('HMGET', key, 'state', 'binding', 'admitted_at')
  local inv = redis.call('HMGET', INVENTORY, 'remaining', 'at')
  local state = fields[1]
  if not state then return {'unknown', -1, 0, 0, 0, '', '', inv[1] or '', inv[2] or ''} end
  local rank = -1
  if state == 'waiting' then rank = redis.call('ZRANK', W, id) or -1 end
  return {state, rank, redis.call('ZCARD', W), redis.call('ZCARD', ACTIVE),
          redis.call('ZCARD', LOG), fields[2] or '', fields[3] or '', inv[1] or '', inv[2] or ''}
end
"""

# ARGV: prefix, ticket, now, placement ('fifo' | 'prequeue'), random place, ttl, binding,
#       idle seconds, max_active, admit_per_minute, can_admit (0/1)
JOIN = (
    _PRELUDE
    + r"""
local prefix, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local ttl = tonumber(ARGV[6])
local score
if ARGV[4] == 'prequeue' then
  score = tonumber(ARGV[5])          -- in [0, 1): ahead of every later arrival, order random
else
  score = redis.call('INCR', SEQ) + 1  -- arrival order, behind all early arrivals
end
local key = tkey(prefix, id)
redis.call('HSET', key, 'state', 'waiting', 'created', now, 'binding', ARGV[7], 'place', score)
redis.call('EXPIRE', key, ttl)
redis.call('ZADD', W, score, id)
redis.call('ZADD', SEEN, now, id)
advance(prefix, now, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]),
        tonumber(ARGV[11]), ttl)
return status_of(prefix, id)
"""
)

# ARGV: prefix, ticket, now, ttl, idle seconds, max_active, admit_per_minute, can_admit,
#       binding ('' for any: otherwise a ticket issued to another binding is left untouched
#       and reported unknown, as if it did not exist), client ('' for no limit), then pairs of
#       (allowed polls, window seconds). Over any allowance: {'limited', seconds to wait}.
POLL = (
    _PRELUDE
    + r"""
local prefix, id, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
-- The client's poll allowance is counted here, fixed windows like flask-limiter's default, so a
-- poll is one round trip: a refused poll changes nothing else.
if ARGV[10] and ARGV[10] ~= '' then
  for i = 11, #ARGV - 1, 2 do
    local amount, window = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
    local start = math.floor(now / window) * window
    local counter = prefix .. ':rl:' .. window .. ':' .. ARGV[10] .. ':' .. start
    local n = redis.call('INCR', counter)
    if n == 1 then redis.call('EXPIRE', counter, window) end
    if n > amount then return {'limited', math.max(1, math.ceil(start + window - now))} end
  end
end
local key = tkey(prefix, id)
if ARGV[9] ~= '' and redis.call('HGET', key, 'binding') ~= ARGV[9] then
  local inv = redis.call('HMGET', INVENTORY, 'remaining', 'at')
  return {'unknown', -1, 0, 0, 0, '', '', inv[1] or '', inv[2] or ''}
end
if redis.call('HGET', key, 'state') == 'waiting' then
  redis.call('ZADD', SEEN, 'XX', now, id)
  redis.call('EXPIRE', key, ttl)
end
advance(prefix, now, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]),
        tonumber(ARGV[8]), ttl)
return status_of(prefix, id)
"""
)

# ARGV: prefix, now, ttl, idle seconds, max_active, admit_per_minute, can_admit
ADVANCE = (
    _PRELUDE
    + r"""
return advance(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5]),
               tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[3]))
"""
)

# An admitted user did something: count them as active again. ARGV: prefix, ticket, now, ttl
TOUCH = (
    _PRELUDE
    + r"""
local key = tkey(ARGV[1], ARGV[2])
local state = redis.call('HGET', key, 'state')
if state == 'admitted' then
  redis.call('ZADD', ACTIVE, tonumber(ARGV[3]), ARGV[2])
  redis.call('EXPIRE', key, tonumber(ARGV[4]))
end
return state or 'unknown'
"""
)

# ARGV: prefix, ticket
REVOKE = (
    _PRELUDE
    + r"""
local key = tkey(ARGV[1], ARGV[2])
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'state', 'revoked')
redis.call('ZREM', W, ARGV[2])
redis.call('ZREM', SEEN, ARGV[2])
redis.call('ZREM', ACTIVE, ARGV[2])
return 1
"""
)
