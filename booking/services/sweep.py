"""The expired-hold sweep: expire holds that ran out, in batches, and give their places back.

Booking never waits for it (a full slot reclaims its own expired holds, see
``slot_counts.take_place_after_miss``); the sweep frees places that nobody is asking for yet,
so searches show them.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.models import Reservation, ReservationStatus
from booking.services.slot_counts import NO_SYNC, Counter, adjust

HELD = ReservationStatus.HELD.value


def release_expired_holds(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """Sweep: expire up to ``batch`` holds past their expiry and return their places."""
    ids = session.scalars(
        select(Reservation.id)
        .where(Reservation.status == HELD, Reservation.hold_expires_at <= now)
        .order_by(Reservation.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    if not ids:
        return 0
    slot_ids = session.scalars(
        update(Reservation)
        .where(Reservation.id.in_(ids), Reservation.status == HELD)
        .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
        .returning(Reservation.slot_id),
        execution_options=NO_SYNC,
    ).all()
    for slot_id, count in sorted(collections.Counter(slot_ids).items()):
        adjust(session, slot_id, Counter.HELD, -count)
    return len(slot_ids)


def sweep_in_batches(
    transaction: Callable[[Callable[[Session], int]], int],
    *,
    clock: Callable[[], datetime],
    max_batches: int | None = None,
) -> int:
    """Run the sweep batch after batch, each in ``transaction``, until one finds nothing.

    ``transaction`` runs its argument on a session and commits (``db.transaction``), so each
    batch's locks are let go before the next; ``max_batches`` bounds a periodic job's turn.
    """
    batches: Iterable[int] = itertools.count() if max_batches is None else range(max_batches)
    total = 0
    for _ in batches:
        released = transaction(lambda s: release_expired_holds(s, now=clock()))
        total += released
        if not released:
            break
    return total
