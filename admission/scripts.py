"""The waiting room's Lua scripts: every multi-step change to the line is one atomic script.

All keys share one hash tag (the prefix is ``{...}``), so the scripts also run on Redis
Cluster. Every script takes the same KEYS, in the order of ``QueueKeys``. Ticket hashes live at
``<prefix>:t:<ticket>`` in the same slot.

Beside each script: the function that builds its ARGV and the one that decodes its reply, so
the Lua and the Python that speaks to it are read together.

The scripts read the inventory themselves and return it with the ticket's status, so a poll is
one round trip: nobody is let in once it says nothing is left.

Every operation on a hot path is O(log N) in the length of the line: ZRANK, ZADD, ZPOPMIN and
range removals whose work is bounded per call. Nothing scans the line.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from admission.states import TicketState


class QueueKeys(NamedTuple):
    """The line's Redis keys, in the order every script reads them (KEYS[1] to KEYS[8]).

    Each is ``<prefix>:<field name>``. Pass the tuple itself as a script's ``keys``.
    """

    waiting: str  # zset: ticket -> place in line
    seen: str  # zset: waiting ticket -> last poll
    active: str  # zset: admitted ticket -> last activity
    admit_log: str  # zset: ticket -> admission time, the last minute only
    seq: str  # arrival counter
    admitted_total: str  # counter
    inventory: str  # hash: remaining appointments ("remaining") and when counted ("at")
    history: str  # hash: the last hour, minute by minute (see ``decode_history``)

    @classmethod
    def under(cls, prefix: str) -> QueueKeys:
        """The keys of the line stored under ``prefix``."""
        return cls(*(f"{prefix}:{name}" for name in cls._fields))


class AdmitLimits(NamedTuple):
    """What every script that advances the line is allowed to do now, in its ARGV order."""

    idle_seconds: int  # who has not polled (waiting) or acted (admitted) for this long drops out
    max_active: int
    admit_per_minute: int
    can_admit: int  # 1 if the mode and phase let anyone in, else 0


_PRELUDE = r"""
local W, SEEN, ACTIVE, LOG, SEQ, TOTAL = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local INVENTORY, HISTORY = KEYS[7], KEYS[8]

local function tkey(prefix, id) return prefix .. ':t:' .. id end

-- The operators' charts: a ring of 60 minutes in one hash, so it never grows. The first call
-- in a minute takes its ring place: 'm' the minute, 'w' the longest the line was after a call
-- in it, 'a' how many were let in.
local function record_minute(now, admitted)
  local minute = string.format('%d', math.floor(now / 60))
  local slot = string.format('%d', math.floor(now / 60) % 60)
  local seen = redis.call('HMGET', HISTORY, 'm' .. slot, 'w' .. slot)
  local waiting = redis.call('ZCARD', W)
  if seen[1] ~= minute then
    redis.call('HSET', HISTORY, 'm' .. slot, minute, 'w' .. slot, waiting, 'a' .. slot, admitted)
    return
  end
  if waiting > tonumber(seen[2]) then redis.call('HSET', HISTORY, 'w' .. slot, waiting) end
  if admitted > 0 then redis.call('HINCRBY', HISTORY, 'a' .. slot, admitted) end
end

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
  if can_admit == 0 or redis.call('HGET', INVENTORY, 'remaining') == '0' then
    record_minute(now, 0)
    return 0
  end
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
  record_minute(now, admitted)
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


class TicketReply(NamedTuple):
    """A ticket's standing as JOIN and POLL return it (``status_of``), in the reply's order."""

    state: TicketState
    rank: int  # 0-based place in line while waiting, else -1
    waiting: int  # people in line
    active: int  # admitted people active now
    admitted_last_minute: int
    binding: str  # '' if the ticket is unknown
    admitted_at: float | None
    remaining: int | None  # appointments still free, None if never counted
    counted_at: float | None  # when the inventory was counted
    place: float | None = None  # JOIN only: the ticket's place in line (its score)


def _ticket_reply(raw: Sequence[Any]) -> TicketReply:
    remaining, counted_at = _text(raw[7]), _text(raw[8])
    admitted_at = _text(raw[6])
    place = _text(raw[9]) if len(raw) > 9 else ""
    return TicketReply(
        state=_state(raw[0]),
        rank=int(raw[1]),
        waiting=int(raw[2]),
        active=int(raw[3]),
        admitted_last_minute=int(raw[4]),
        binding=_text(raw[5]),
        admitted_at=float(admitted_at) if admitted_at else None,
        remaining=int(remaining) if remaining else None,
        counted_at=float(counted_at) if counted_at else None,
        place=float(place) if place else None,
    )


def _state(value: Any) -> TicketState:
    # Not a state the scripts write: the ticket cannot be used, as if it did not exist.
    return _STATES.get(value, TicketState.UNKNOWN)


# Replies come as bytes from redis-py, as text from a client that decodes responses.
_STATES = {s.value.encode(): s for s in TicketState} | {s.value: s for s in TicketState}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Placement(enum.StrEnum):
    """Where JOIN puts a new ticket."""

    FIFO = "fifo"  # behind everyone, in arrival order
    PREQUEUE = "prequeue"  # at a random place among the early arrivals, ahead of all later ones


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
local reply = status_of(prefix, id)
reply[10] = redis.call('HGET', key, 'place') or ''  -- the client keeps it (see admission.restore)
return reply
"""
)


def join_args(
    prefix: str,
    ticket: str,
    *,
    now: float,
    placement: Placement,
    place: float,
    ttl: int,
    binding: str,
    limits: AdmitLimits,
) -> list[Any]:
    """JOIN's ARGV; ``place`` in [0, 1) orders a pre-queue arrival among the early ones."""
    return [prefix, ticket, repr(now), placement, repr(place), ttl, binding, *limits]


def decode_join(raw: Sequence[Any]) -> TicketReply:
    """JOIN's reply: the new ticket's standing."""
    return _ticket_reply(raw)


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


class PollRefused(NamedTuple):
    """POLL's reply past the client's allowance (nothing else was changed)."""

    retry_after: int  # seconds until the client's window resets


def poll_args(
    prefix: str,
    ticket: str,
    *,
    now: float,
    ttl: int,
    limits: AdmitLimits,
    binding: str,
    client: str,
    windows: Sequence[tuple[int, int]],
) -> list[Any]:
    """POLL's ARGV; without ``windows`` (polls, seconds) the client's polls are not counted."""
    args: list[Any] = [prefix, ticket, repr(now), ttl, *limits, binding]
    if windows:
        args.append(client)
        for amount, seconds in windows:
            args += [amount, seconds]
    return args


def decode_poll(raw: Sequence[Any]) -> TicketReply | PollRefused:
    """POLL's reply: the ticket's standing, or the refusal if the client polled too often."""
    if _text(raw[0]) == "limited":
        return PollRefused(int(raw[1]))
    return _ticket_reply(raw)


# ARGV: prefix, now, ttl, idle seconds, max_active, admit_per_minute, can_admit
ADVANCE = (
    _PRELUDE
    + r"""
return advance(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5]),
               tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[3]))
"""
)


def advance_args(prefix: str, *, now: float, ttl: int, limits: AdmitLimits) -> list[Any]:
    """ADVANCE's ARGV."""
    return [prefix, repr(now), ttl, *limits]


def decode_advance(raw: Any) -> int:
    """ADVANCE's reply: how many people were let in."""
    return int(raw)


HISTORY_MINUTES = 60  # the length of the ring ``record_minute`` keeps


class MinuteFigures(NamedTuple):
    """One minute of the line, as the scripts recorded it."""

    starts_at: int  # epoch seconds, a multiple of 60
    waiting: int | None  # the longest the line was after a call in the minute; None: no call
    admitted: int


def decode_history(raw: Mapping[Any, Any], *, now: float) -> list[MinuteFigures]:
    """The last hour from the history hash (as HGETALL returns it), oldest minute first."""
    fields = {_text(k): _text(v) for k, v in raw.items()}
    current = math.floor(now / 60)
    figures = []
    for minute in range(current - HISTORY_MINUTES + 1, current + 1):
        slot = minute % HISTORY_MINUTES
        if fields.get(f"m{slot}") == str(minute):
            waiting, admitted = int(fields[f"w{slot}"]), int(fields[f"a{slot}"])
            figures.append(MinuteFigures(minute * 60, waiting, admitted))
        else:  # a ring place still holding an older hour, or never used
            figures.append(MinuteFigures(minute * 60, None, 0))
    return figures


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


def touch_args(prefix: str, ticket: str, *, now: float, ttl: int) -> list[Any]:
    """TOUCH's ARGV."""
    return [prefix, ticket, repr(now), ttl]


def decode_touch(raw: Any) -> TicketState:
    """TOUCH's reply: the ticket's state."""
    return _state(raw)


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


def revoke_args(prefix: str, ticket: str) -> list[Any]:
    """REVOKE's ARGV."""
    return [prefix, ticket]


def decode_revoke(raw: Any) -> bool:
    """REVOKE's reply: whether the ticket existed."""
    return bool(raw)
