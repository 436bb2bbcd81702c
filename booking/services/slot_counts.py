"""A slot's place counters: taking a place atomically, moving a counter, and lazy release.

A place is taken by one statement, ``UPDATE slot SET held = held + 1 WHERE id = :id AND
held + booked < capacity``, never by reading the counters and writing them back, so two
requests can never both take the last place, on any backend or isolation level. Locks are
always taken reservation first, slot second, so concurrent operations do not deadlock.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, case, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from booking.models import Reservation, ReservationStatus, Slot
from booking.services.errors import NotFound, SlotFull, SlotUnavailable
from booking.services.text import N_

# Execution options of the DML here: the session holds nothing these statements would change.
NO_SYNC = {"synchronize_session": False}
HELD = ReservationStatus.HELD.value


class Counter(enum.StrEnum):
    """Which of a slot's counters a place is counted in."""

    HELD = "held"
    BOOKED = "booked"

    @property
    def column(self) -> InstrumentedAttribute[int]:
        """The slot column behind this counter."""
        return Slot.held if self is Counter.HELD else Slot.booked


def adjust(session: Session, slot_id: int, counter: Counter, delta: int) -> None:
    """Move one of a slot's counters by ``delta``; the CHECK constraints refuse the impossible."""
    column = counter.column
    session.execute(
        update(Slot).where(Slot.id == slot_id).values({column: column + delta}),
        execution_options=NO_SYNC,
    )


def phone_reserved_now(now: datetime | ColumnElement[Any]) -> ColumnElement[int]:
    """The places still set aside for phone bookings at ``now`` (0 after the cutoff)."""
    return case(
        (
            and_(Slot.phone_release_at.is_not(None), Slot.phone_release_at > now),
            Slot.phone_reserved,
        ),
        else_=0,
    )


def online_free(now: datetime | ColumnElement[Any]) -> ColumnElement[int]:
    """Places residents may take online now: capacity less the phone and invitation
    set-asides, held, booked."""
    return Slot.capacity - phone_reserved_now(now) - Slot.invite_reserved - Slot.held - Slot.booked


def agent_room() -> ColumnElement[bool]:
    """Whether a 2-1-1 agent may take a place: any place but those released for invitees."""
    return Slot.held + Slot.booked + Slot.invite_reserved < Slot.capacity


def take_statement(
    slot_id: int | ColumnElement[int],
    *,
    now: datetime | ColumnElement[Any],
    counter: Counter = Counter.HELD,
    online: bool = True,
) -> Update:
    """The one conditional UPDATE that counts a place if the slot is open and has room.

    Online residents cannot take the places set aside for phone bookings before the cutoff;
    2-1-1 agents (``online=False``) can take any place.
    """
    target = counter.column
    room = online_free(now) > 0 if online else agent_room()
    return (
        update(Slot)
        .where(
            Slot.id == slot_id,
            Slot.is_open.is_(True),
            Slot.starts_at > now,
            room,
        )
        .values({target: target + 1})
    )


def take_place(
    session: Session,
    slot_id: int,
    *,
    now: datetime,
    counter: Counter = Counter.HELD,
    online: bool = True,
) -> bool:
    """Atomically count one more place if the slot is open and has room."""
    result = session.execute(
        take_statement(slot_id, now=now, counter=counter, online=online),
        execution_options=NO_SYNC,
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def take_place_or_raise(
    session: Session,
    slot_id: int,
    *,
    now: datetime,
    counter: Counter = Counter.HELD,
    online: bool = True,
) -> Slot:
    """Take a place, releasing expired holds first if the slot looks full; raise if none."""
    if not take_place(session, slot_id, now=now, counter=counter, online=online):
        take_place_after_miss(session, slot_id, now=now, counter=counter, online=online)
    slot = session.get(Slot, slot_id, populate_existing=True)
    assert slot is not None
    return slot


def take_place_after_miss(
    session: Session, slot_id: int, *, now: datetime, counter: Counter, online: bool
) -> Slot:
    """The slow path once the conditional UPDATE took nothing: say why, or reclaim and retry."""
    slot = session.get(Slot, slot_id, populate_existing=True)
    if slot is None:
        raise NotFound(N_("No slot with that id."))
    if not slot.is_open or slot.starts_at <= now:
        raise SlotUnavailable(N_("This time is no longer available. Please choose another."))
    # Lazy release: expired holds are reclaimed here, so a slot always sells out exactly.
    if not release_expired_on_slot(session, slot_id, now=now) or not take_place(
        session, slot_id, now=now, counter=counter, online=online
    ):
        raise SlotFull(N_("Every place at this time is taken. Please choose another time."))
    return slot


def release_expired_on_slot(session: Session, slot_id: int, *, now: datetime) -> int:
    """Expire the slot's holds that ran out and give their places back; return how many."""
    expired = session.scalars(
        update(Reservation)
        .where(
            Reservation.slot_id == slot_id,
            Reservation.status == HELD,
            Reservation.hold_expires_at <= now,
        )
        .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
        .returning(Reservation.id),
        execution_options=NO_SYNC,
    ).all()
    if expired:
        adjust(session, slot_id, Counter.HELD, -len(expired))
    return len(expired)
