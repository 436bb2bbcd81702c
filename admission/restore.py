"""Putting back a ticket the line's Redis lost (a failover to a replica that had not caught up).

The replica of the line's Redis is asynchronous: a failover can lose the last writes, among them
tickets just issued or just admitted. The client still holds proof of what it was given, signed
by the app: the browser's session (its ticket and its place in line) or an admission token. The
RESTORE script puts such a ticket back only where no trace of it is left, so it cannot revive a
ticket that expired, was revoked or belongs to another browser.
"""

from __future__ import annotations

from typing import Any

from admission.scripts import _PRELUDE  # the keys and helpers every script shares

# ARGV: prefix, ticket, now, ttl, binding, state ('waiting' | 'admitted'), place in line.
# Returns 1 if the ticket was put back, 0 if Redis still knows it (in any state).
RESTORE = (
    _PRELUDE
    + r"""
local prefix, id, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = tkey(prefix, id)
if redis.call('EXISTS', key) == 1 then return 0 end
if ARGV[6] == 'admitted' then
  redis.call('HSET', key, 'state', 'admitted', 'created', now, 'binding', ARGV[5],
             'admitted_at', now, 'restored', now)
  redis.call('ZADD', ACTIVE, now, id)
else
  local place = tonumber(ARGV[7])
  redis.call('HSET', key, 'state', 'waiting', 'created', now, 'binding', ARGV[5],
             'place', ARGV[7], 'restored', now)
  redis.call('ZADD', W, place, id)
  redis.call('ZADD', SEEN, now, id)
  -- The arrival counter may have lost increments too: later arrivals go behind this place.
  local seq = tonumber(redis.call('GET', SEQ) or '0')
  if seq < math.floor(place) - 1 then redis.call('SET', SEQ, math.floor(place) - 1) end
end
redis.call('EXPIRE', key, ttl)
return 1
"""
)


def restore_args(
    prefix: str, ticket: str, *, now: float, ttl: int, binding: str, place: float | None
) -> list[Any]:
    """RESTORE's ARGV: with a place, back in line there; without one, admitted again."""
    state = "admitted" if place is None else "waiting"
    return [prefix, ticket, repr(now), ttl, binding, state, repr(place or 0.0)]
