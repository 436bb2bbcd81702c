"""Holding a place in a slot: atomic conditional updates, lazy release, and the sweep.

A place is taken by one statement, ``UPDATE slot SET held = held + 1 WHERE id = :id AND
held + booked < capacity``, never by reading the counters and writing them back, so two
requests can never both take the last place, on any backend or isolation level. Locks are
always taken reservation first, slot second, so concurrent operations do not deadlock.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Update,
    and_,
    bindparam,
    case,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import Channel, Reservation, ReservationStatus, Slot
from booking.services.errors import Conflict, NotFound, SlotFull, SlotUnavailable
from booking.services.text import N_
from booking.services.tokens import new_hold_token, token_hash

_NO_SYNC = {"synchronize_session": False}
HELD = ReservationStatus.HELD.value


def _adjust_slot(session: Session, slot_id: int, *, held: int = 0, booked: int = 0) -> None:
    """Move a slot's counters by a delta; the CHECK constraints refuse anything impossible."""
    session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(held=Slot.held + held, booked=Slot.booked + booked),
        execution_options=_NO_SYNC,
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
    """Places residents may take online now: capacity less the phone set-aside, held, booked."""
    return Slot.capacity - phone_reserved_now(now) - Slot.held - Slot.booked


def _take_statement(
    slot_id: int | ColumnElement[int],
    *,
    now: datetime | ColumnElement[Any],
    column: str = "held",
    online: bool = True,
) -> Update:
    """The one conditional UPDATE that counts a hold (or booking) if the slot is open and has room.

    Online residents cannot take the places set aside for phone bookings before the cutoff;
    2-1-1 agents (``online=False``) can take any place.
    """
    target = Slot.held if column == "held" else Slot.booked
    room = online_free(now) > 0 if online else Slot.held + Slot.booked < Slot.capacity
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
    session: Session, slot_id: int, *, now: datetime, column: str = "held", online: bool = True
) -> bool:
    """Atomically count one more hold (or booking) if the slot is open and has room."""
    result = session.execute(
        _take_statement(slot_id, now=now, column=column, online=online),
        execution_options=_NO_SYNC,
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


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
        execution_options=_NO_SYNC,
    ).all()
    if expired:
        _adjust_slot(session, slot_id, held=-len(expired))
    return len(expired)


def take_place_or_raise(
    session: Session, slot_id: int, *, now: datetime, column: str = "held", online: bool = True
) -> Slot:
    """Take a place, releasing expired holds first if the slot looks full; raise if none."""
    if not take_place(session, slot_id, now=now, column=column, online=online):
        _take_place_after_miss(session, slot_id, now=now, column=column, online=online)
    slot = session.get(Slot, slot_id, populate_existing=True)
    assert slot is not None
    return slot


def _take_place_after_miss(
    session: Session, slot_id: int, *, now: datetime, column: str, online: bool
) -> Slot:
    """The slow path once the conditional UPDATE took nothing: say why, or reclaim and retry."""
    slot = session.get(Slot, slot_id, populate_existing=True)
    if slot is None:
        raise NotFound(N_("No slot with that id."))
    if not slot.is_open or slot.starts_at <= now:
        raise SlotUnavailable(N_("This time is no longer available. Please choose another."))
    # Lazy release: expired holds are reclaimed here, so a slot always sells out exactly.
    if not release_expired_on_slot(session, slot_id, now=now) or not take_place(
        session, slot_id, now=now, column=column, online=online
    ):
        raise SlotFull(N_("Every place at this time is taken. Please choose another time."))
    return slot


def find_hold(session: Session, hold_token: str, *, lock: bool = False) -> Reservation:
    """Return the reservation behind a hold id (locked for update if asked) or raise."""
    query = select(Reservation).where(Reservation.hold_token == hold_token)
    if lock:
        query = query.with_for_update()
    reservation = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if reservation is None:
        raise NotFound(N_("No hold with that id."))
    return reservation


def place_hold(
    session: Session,
    slot_id: int,
    *,
    now: datetime,
    hold_minutes: int,
    channel: Channel = Channel.ONLINE,
    request_key: str | None = None,
    replace_hold: str | None = None,
    admission_ticket: str | None = None,
) -> Reservation:
    """Hold one place in a slot for ``hold_minutes``; replays of ``request_key`` return it.

    With an ``admission_ticket``, any hold that ticket already has is given back first: one
    admitted session holds at most one slot (a partial unique index enforces it too).
    """
    key_hash = token_hash(request_key) if request_key else None
    earlier = _earlier_requests(session, key_hash, admission_ticket)
    for previous in earlier:
        if key_hash and previous.request_key_hash == key_hash:
            if previous.slot_id != slot_id:
                raise Conflict(N_("This Idempotency-Key was already used for another slot."))
            return previous
    if replace_hold:
        # One hold per visitor: choosing another time gives the previous place back first.
        release_hold(session, replace_hold, now=now, missing_ok=True)
    for previous in earlier:
        # Read before replace_hold was released; releasing that one again is a no-op.
        release_hold(session, previous.hold_token, now=now, missing_ok=True)
    values = {
        "status": HELD,
        "channel": channel.value,
        "hold_token": new_hold_token(),
        "hold_expires_at": now + timedelta(minutes=hold_minutes),
        "request_key_hash": key_hash,
        "admission_ticket": admission_ticket,
        # Given here, not left to the model's defaults: the INSERT ... SELECT does not apply them.
        "eligibility_attested": False,
        "locale": "en",
        "created_at": now,
        "updated_at": now,
    }
    online = channel == Channel.ONLINE
    try:
        reservation = _take_and_insert(session, slot_id, now=now, online=online, values=values)
        if reservation is None:
            slot = _take_place_after_miss(session, slot_id, now=now, column="held", online=online)
            reservation = _insert(session, slot.id, slot.clinic_id, slot.service, values)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key or admission ticket won the race.
        # No savepoint: every caller's transaction rolls back on this error (the place taken
        # above with it), so nothing of this request is kept, and the visitor may retry.
        raise Conflict(N_("Another hold request for this visitor is in progress.")) from None
    return reservation


def _earlier_requests(
    session: Session, key_hash: str | None, admission_ticket: str | None
) -> list[Reservation]:
    """In one query: the hold an Idempotency-Key replays, and the ticket's live holds."""
    if not key_hash and not admission_ticket:
        return []
    statement = _earlier_statement(bool(key_hash), bool(admission_ticket))
    params = {"key_hash": key_hash, "ticket": admission_ticket}
    return list(session.scalars(statement, params).all())


@lru_cache(maxsize=4)
def _earlier_statement(by_key: bool, by_ticket: bool) -> Select[Reservation]:
    """The query of ``_earlier_requests``, built once per shape."""
    matches: list[ColumnElement[bool]] = []
    if by_key:
        matches.append(Reservation.request_key_hash == bindparam("key_hash"))
    if by_ticket:
        matches.append(
            and_(Reservation.admission_ticket == bindparam("ticket"), Reservation.status == HELD)
        )
    return select(Reservation).where(or_(*matches))


def _take_and_insert(
    session: Session, slot_id: int, *, now: datetime, online: bool, values: dict[str, Any]
) -> Reservation | None:
    """Take a place and insert the hold for it; None if the fast path took no place.

    On PostgreSQL this is one statement, ``WITH taken AS (UPDATE slot ... RETURNING ...)
    INSERT INTO reservation ... SELECT ... FROM taken``; SQLite has no data-modifying CTEs,
    so there it is the UPDATE ... RETURNING and then the INSERT.
    """
    if session.get_bind().dialect.name != "postgresql":
        taken = session.execute(
            _take_statement(slot_id, now=now, online=online).returning(
                Slot.clinic_id, Slot.service
            ),
            execution_options=_NO_SYNC,
        ).one_or_none()
        if taken is None:
            return None
        return _insert(session, slot_id, taken.clinic_id, taken.service, values)
    params = {f"v_{name}": value for name, value in values.items()}
    statement = _take_and_insert_statement(online, tuple(values))
    # "orm": the parameters bind this one statement (with them, "auto" means a bulk INSERT).
    return session.scalars(
        statement,
        {"slot_id": slot_id, "now": now, **params},
        execution_options={"dml_strategy": "orm"},
    ).one_or_none()


@lru_cache(maxsize=8)
def _take_and_insert_statement(online: bool, names: tuple[str, ...]) -> Insert:
    """The hold's one PostgreSQL statement, built once: every value is a bound parameter.

    Built per request it cost a new CTE (and its column proxies) and every clause's coercion
    each time, several percent of a booking's CPU.
    """
    now = bindparam("now", type_=Slot.starts_at.type)
    take = _take_statement(bindparam("slot_id", type_=Slot.id.type), now=now, online=online)
    cte = take.returning(Slot.id, Slot.clinic_id, Slot.service).cte("taken")
    columns = Reservation.__table__.c
    rows = select(
        cte.c.id,
        cte.c.clinic_id,
        cte.c.service,
        *(bindparam(f"v_{name}", type_=columns[name].type) for name in names),
    )
    return (
        insert(Reservation)
        .from_select(["slot_id", "clinic_id", "service", *names], rows)
        .add_cte(cte)  # at the top level: PostgreSQL refuses a data-modifying WITH elsewhere
        .returning(Reservation)
    )


def _insert(
    session: Session, slot_id: int, clinic_id: int, service: str, values: dict[str, Any]
) -> Reservation:
    """INSERT ... RETURNING the hold, without the unit of work's flush machinery."""
    insert_hold = (
        insert(Reservation)
        .values(slot_id=slot_id, clinic_id=clinic_id, service=service, **values)
        .returning(Reservation)
    )
    return session.scalars(insert_hold).one()


def release_hold(
    session: Session, hold_token: str, *, now: datetime, missing_ok: bool = False
) -> Reservation | None:
    """Give a held place back. Releasing twice is harmless; a confirmed hold is refused."""
    try:
        reservation = find_hold(session, hold_token, lock=True)
    except NotFound:
        if missing_ok:
            return None
        raise
    if reservation.status == HELD:
        reservation.status = ReservationStatus.CANCELLED.value
        reservation.cancelled_at = now
        reservation.updated_at = now
        session.flush()
        _adjust_slot(session, reservation.slot_id, held=-1)
    elif reservation.status not in (ReservationStatus.CANCELLED, ReservationStatus.EXPIRED):
        if missing_ok:
            return None
        raise Conflict(N_("This hold has been confirmed; cancel the reservation instead."))
    return reservation


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
        execution_options=_NO_SYNC,
    ).all()
    for slot_id, count in sorted(Counter(slot_ids).items()):
        _adjust_slot(session, slot_id, held=-count)
    return len(slot_ids)
