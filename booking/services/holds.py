"""Holding a place in a slot for a visitor: Idempotency-Key replays, one hold per visitor.

The place itself is counted by ``slot_counts``; the hold's statements are in ``statements``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, NoResultFound
from sqlalchemy.orm import Session

from booking.models import Channel, Reservation, ReservationStatus, Slot
from booking.services import eligibility, statements
from booking.services.errors import AdmissionSpent, Conflict, NotFound
from booking.services.slot_counts import (
    NO_SYNC,
    Counter,
    adjust,
    take_place_after_miss,
    take_statement,
)
from booking.services.text import N_
from booking.services.tokens import new_hold_token, token_hash

HELD = ReservationStatus.HELD.value


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
    date_of_birth: date | None = None,
    companion_allowed: bool = False,
) -> Reservation:
    """Hold one place in a slot for ``hold_minutes``; replays of ``request_key`` return it.

    With an ``admission_ticket``, any hold that ticket already has is given back first: one
    admitted session holds at most one slot (a partial unique index enforces it too); a ticket
    whose booking is confirmed is spent (``AdmissionSpent``), but for one companion booking
    where ``companion_allowed``. With a ``date_of_birth``, a slot whose product or rules exclude
    that age on its date is refused (``NotEligible``) before any place is taken.
    """
    key_hash = token_hash(request_key) if request_key else None
    earlier = _earlier_requests(session, key_hash, admission_ticket)
    for previous in earlier:
        if key_hash and previous.request_key_hash == key_hash:
            if previous.slot_id != slot_id:
                raise Conflict(N_("This Idempotency-Key was already used for another slot."))
            return previous
    if admission_ticket:
        spent = [r for r in earlier if r.admission_ticket == admission_ticket and r.confirmed_at]
        refuse_spent_admission(spent, companion_allowed=companion_allowed)
    if date_of_birth is not None:
        try:
            appointment = eligibility.appointment_of(session, slot_id, now=now)
        except NoResultFound:
            raise NotFound(N_("No slot with that id.")) from None
        eligibility.check_booking(session, appointment, date_of_birth, None)
    if replace_hold:
        # One hold per visitor: choosing another time gives the previous place back first.
        release_hold(session, replace_hold, now=now, missing_ok=True)
    for previous in (r for r in earlier if r.status == HELD):
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
        "companion": False,
        "locale": "en",
        "dose_number": 1,  # "dose 2 only" is set when the hold is confirmed
        "created_at": now,
        "updated_at": now,
    }
    online = channel == Channel.ONLINE
    try:
        reservation = _take_and_insert(session, slot_id, now=now, online=online, values=values)
        if reservation is None:
            slot = take_place_after_miss(
                session, slot_id, now=now, counter=Counter.HELD, online=online
            )
            reservation = _insert(session, slot, values)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key or admission ticket won the race.
        # No savepoint: every caller's transaction rolls back on this error (the place taken
        # above with it), so nothing of this request is kept, and the visitor may retry.
        raise Conflict(N_("Another hold request for this visitor is in progress.")) from None
    return reservation


ADMISSION_SPENT = N_(
    "This place in line has already been used to book an appointment. To book for someone "
    "else, join the line again."
)


def refuse_spent_admission(
    bookings: Sequence[Reservation], *, companion_allowed: bool, companion: bool = True
) -> None:
    """Raise AdmissionSpent unless an admission with these confirmed ``bookings`` may book again.

    Unspent: no booking yet. Where companions are allowed, one booking leaves room for exactly
    one companion (``companion`` says the new booking would be it); never a third.
    """
    if not bookings:
        return
    has_companion = any(booking.companion for booking in bookings)
    if companion_allowed and companion and not has_companion and len(bookings) == 1:
        return
    raise AdmissionSpent(ADMISSION_SPENT)


def admission_bookings(session: Session, ticket: str) -> list[Reservation]:
    """The confirmed bookings (cancelled ones included) an admission ticket has made."""
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.admission_ticket == ticket, Reservation.confirmed_at.is_not(None))
            .order_by(Reservation.id)
        )
    )


def _earlier_requests(
    session: Session, key_hash: str | None, admission_ticket: str | None
) -> list[Reservation]:
    """In one query: the hold an Idempotency-Key replays, and the ticket's live holds."""
    if not key_hash and not admission_ticket:
        return []
    statement = statements.earlier_requests(bool(key_hash), bool(admission_ticket))
    params = {"key_hash": key_hash, "ticket": admission_ticket}
    return list(session.scalars(statement, params).all())


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
            take_statement(slot_id, now=now, online=online).returning(
                Slot.id, Slot.clinic_id, Slot.service, Slot.product_id
            ),
            execution_options=NO_SYNC,
        ).one_or_none()
        if taken is None:
            return None
        return _insert(session, taken, values)
    params = {f"v_{name}": value for name, value in values.items()}
    statement = statements.take_and_insert_hold(online, tuple(values))
    # "orm": the parameters bind this one statement (with them, "auto" means a bulk INSERT).
    return session.scalars(
        statement,
        {"slot_id": slot_id, "now": now, **params},
        execution_options={"dml_strategy": "orm"},
    ).one_or_none()


def _insert(session: Session, slot: Any, values: dict[str, Any]) -> Reservation:
    """INSERT ... RETURNING the hold (for ``slot``'s place), without the unit of work's flush."""
    insert_hold = (
        insert(Reservation)
        .values(
            slot_id=slot.id,
            clinic_id=slot.clinic_id,
            service=slot.service,
            product_id=slot.product_id,
            **values,
        )
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
        adjust(session, reservation.slot_id, Counter.HELD, -1)
    elif reservation.status not in (ReservationStatus.CANCELLED, ReservationStatus.EXPIRED):
        if missing_ok:
            return None
        raise Conflict(N_("This hold has been confirmed; cancel the reservation instead."))
    return reservation
