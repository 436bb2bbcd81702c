"""Restoring a ticket the line's Redis lost (admission/restore.py), without Flask."""

from __future__ import annotations

from admission.queue import TICKET_TTL_SECONDS
from admission.states import TicketState
from tests.admission.test_admission import T0, make_queue


def forget(queue, ticket):
    """What a failover to a replica that had not caught up does to a ticket."""
    for key in (queue.keys.waiting, queue.keys.seen, queue.keys.active):
        queue.redis.zrem(key, ticket)
    queue.redis.delete(f"{queue.prefix}:t:{ticket}")


def test_a_lost_waiting_ticket_gets_its_place_back_and_later_arrivals_stay_behind():
    queue = make_queue(mode="paused")
    first, second, third = (queue.join(binding="b", now=T0 + i) for i in range(3))
    assert [s.place for s in (first, second, third)] == [2.0, 3.0, 4.0]
    forget(queue, second.ticket)
    forget(queue, third.ticket)
    queue.redis.set(queue.keys.seq, 1)  # the counter lost its last increments too
    assert queue.poll(second.ticket, now=T0 + 5, binding="b").state == TicketState.UNKNOWN

    assert queue.restore(second.ticket, binding="b", issued_at=T0 + 1, now=T0 + 5, place=3.0)
    status = queue.poll(second.ticket, now=T0 + 5, binding="b")
    assert (status.state, status.position) == (TicketState.WAITING, 2)
    later = queue.join(binding="c", now=T0 + 6)
    assert later.place is not None and later.place > 3.0
    assert queue.poll(later.ticket, now=T0 + 6).position == 3


def test_restore_never_revives_or_overwrites_a_ticket_redis_still_knows():
    queue = make_queue(mode="paused")
    mine = queue.join(binding="b", now=T0)
    revoked = queue.join(binding="b", now=T0)
    queue.revoke(revoked.ticket)
    # Known in any state, or restored with another's binding or place: nothing changes.
    for status in (mine, revoked):
        assert not queue.restore(status.ticket, binding="x", issued_at=T0, now=T0, place=0.0)
        assert not queue.restore(status.ticket, binding="x", issued_at=T0, now=T0, place=None)
    assert queue.poll(revoked.ticket, now=T0).state == TicketState.REVOKED
    assert queue.poll(mine.ticket, now=T0, binding="b").position == 1


def test_restore_refuses_tickets_older_than_their_lifetime_and_malformed_ids():
    queue = make_queue(mode="paused")
    old = queue.join(binding="b", now=T0)
    forget(queue, old.ticket)
    later = T0 + TICKET_TTL_SECONDS
    assert not queue.restore(old.ticket, binding="b", issued_at=T0, now=later, place=2.0)
    for ticket in ("", "a.b"):
        assert not queue.restore(ticket, binding="b", issued_at=T0, now=T0, place=2.0)
    assert queue.poll(old.ticket, now=later).state == TicketState.UNKNOWN


def test_a_lost_admission_comes_back_admitted_and_counts_as_active():
    queue = make_queue(max_active=1)
    admitted = queue.join(binding="api", now=T0)
    assert admitted.state == TicketState.ADMITTED
    forget(queue, admitted.ticket)
    assert queue.stats(now=T0).active == 0
    assert queue.restore(admitted.ticket, binding="api", issued_at=T0, now=T0 + 1, place=None)
    assert queue.touch(admitted.ticket, now=T0 + 2) == TicketState.ADMITTED
    assert queue.stats(now=T0 + 2).active == 1
    # The place it takes back is counted: the next arrival waits.
    assert queue.join(binding="api", now=T0 + 3).state == TicketState.WAITING
