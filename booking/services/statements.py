"""The booking hot path's prebuilt statements: built once on first use, every value bound.

Built per request, their construction (a new CTE and its column proxies, a new alias of the
24-column reservation model, every clause coerced again) was about a tenth of a booking's CPU.
Each builder is cached per shape and names the bound parameters its caller passes.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import ReturningUpdate

from booking.models import (
    Clinic,
    OutboxMessage,
    Reservation,
    ReservationStatus,
    Slot,
    VaccineProduct,
)
from booking.services.slot_counts import agent_room, online_free, take_statement

# How an ORM UPDATE ... RETURNING Slot runs: the parameters bind this one statement (not an
# UPDATE by primary keys), and the returned row refreshes the slot in the session.
RETURNING_ONE = {"dml_strategy": "orm", "synchronize_session": False, "populate_existing": True}

HELD = ReservationStatus.HELD.value
CONFIRMED = ReservationStatus.CONFIRMED.value


@cache
def earlier_requests(by_key: bool, by_ticket: bool) -> Select[Reservation]:
    """The hold Idempotency-Key ``key_hash`` replays and/or ``ticket``'s live holds and bookings.

    A ticket's confirmed rows say whether its admission is spent (one admission, one booking).
    """
    matches: list[ColumnElement[bool]] = []
    if by_key:
        matches.append(Reservation.request_key_hash == bindparam("key_hash"))
    if by_ticket:
        matches.append(
            and_(
                Reservation.admission_ticket == bindparam("ticket"),
                or_(Reservation.status == HELD, Reservation.confirmed_at.is_not(None)),
            )
        )
    return select(Reservation).where(or_(*matches))


@cache
def take_and_insert_hold(online: bool, names: tuple[str, ...]) -> Insert:
    """PostgreSQL's one statement for a hold: take the place, insert the hold, return it.

    ``WITH taken AS (UPDATE slot ... RETURNING ...) INSERT INTO reservation ... SELECT ... FROM
    taken``, bound by ``slot_id``, ``now`` and ``v_<name>`` for each of ``names``.
    """
    now = bindparam("now", type_=Slot.starts_at.type)
    take = take_statement(bindparam("slot_id", type_=Slot.id.type), now=now, online=online)
    cte = take.returning(Slot.id, Slot.clinic_id, Slot.service, Slot.product_id).cte("taken")
    columns = Reservation.__table__.c
    rows = select(
        cte.c.id,
        cte.c.clinic_id,
        cte.c.service,
        cte.c.product_id,
        *(bindparam(f"v_{name}", type_=columns[name].type) for name in names),
    )
    return (
        insert(Reservation)
        .from_select(["slot_id", "clinic_id", "service", "product_id", *names], rows)
        .add_cte(cte)  # at the top level: PostgreSQL refuses a data-modifying WITH elsewhere
        .returning(Reservation)
    )


@cache
def lock_hold() -> Select[Any]:
    """Lock a hold (``hold_token``); read its slot, product and clinic's time zone, and another
    confirmed booking of ``person_key`` for the same dose (``dose``), all in one statement.

    The one-booking-per-service check rides on it as a correlated subquery; the slot, product
    and zone are what the rules, the booking and its messages need, so none is read again.
    """
    other = aliased(Reservation, name="other_reservation")
    return (
        select(
            Reservation,
            Slot,
            VaccineProduct,
            Clinic.timezone,
            select(other.id)
            .where(
                other.person_key == bindparam("person_key"),
                other.service == Reservation.service,
                other.dose_number == bindparam("dose"),
                other.status == CONFIRMED,
                other.id != Reservation.id,
            )
            .correlate(Reservation)
            .limit(1)
            .scalar_subquery()
            .label("other_booking"),
        )
        .join(Slot, Slot.id == Reservation.slot_id)
        .join(Clinic, Clinic.id == Slot.clinic_id)
        .join(VaccineProduct, VaccineProduct.id == Reservation.product_id)
        .where(Reservation.hold_token == bindparam("hold_token"))
        .with_for_update(of=Reservation)
        .execution_options(populate_existing=True)
    )


# What confirming writes on the hold's row, each bound as ``v_<name>``.
CONFIRM_COLUMNS = (
    "status",
    "first_name",
    "last_name",
    "date_of_birth",
    "person_key",
    "phone",
    "email",
    "eligibility_attested",
    "confirmation_code",
    "manage_token_hash",
    "confirmed_at",
    "updated_at",
    "companion",
    "locale",
    "channel",
    "dose_number",
    "prior_dose_date",
)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _fill_hold() -> Update:
    reservation = _table(Reservation)
    return (
        update(reservation)
        .where(reservation.c.id == bindparam("reservation_id"))
        .values({name: bindparam(f"v_{name}") for name in CONFIRM_COLUMNS})
    )


def _book_place() -> Update:
    slot = _table(Slot)
    return (
        update(slot)
        .where(slot.c.id == bindparam("held_slot_id"))
        .values(held=slot.c.held - 1, booked=slot.c.booked + 1)
    )


@cache
def confirm_booking(postgresql: bool) -> tuple[Update, ...]:
    """Turn the hold's place (``held_slot_id``) into a booking and fill the hold
    (``reservation_id``, ``v_<name>`` of ``CONFIRM_COLUMNS``); each returns the slot's counts.

    PostgreSQL: one statement, ``WITH booked AS (UPDATE slot ... RETURNING ...) UPDATE
    reservation ... FROM booked``. SQLite, without data-modifying CTEs: the two UPDATEs, the
    first returning the counts. The CHECK constraints and unique indexes refuse alike.
    """
    slot, reservation = _table(Slot), _table(Reservation)
    if not postgresql:
        return (_book_place().returning(slot.c.held, slot.c.booked), _fill_hold())
    booked = _book_place().returning(slot.c.id, slot.c.held, slot.c.booked).cte("booked")
    return (
        _fill_hold()
        .where(reservation.c.slot_id == booked.c.id)
        .add_cte(booked)  # at the top level: PostgreSQL refuses a data-modifying WITH elsewhere
        .returning(booked.c.held, booked.c.booked),
    )


@cache
def insert_messages() -> Insert:
    """INSERT outbox rows (an executemany: one statement for all), returning id and dedupe_key.

    Rows come back in no set order (asking for the parameters' order costs SQLite a statement
    per row), so the caller matches them by their unique ``dedupe_key``.
    """
    table = _table(OutboxMessage)
    return insert(table).returning(table.c.id, table.c.dedupe_key)


@cache
def confirmation_answer() -> Select[int, datetime, int, str]:
    """What a confirmation's answer shows of slot ``answer_slot_id`` and its clinic."""
    return (
        select(Slot.id, Slot.starts_at, Clinic.id.label("clinic_id"), Clinic.timezone)
        .join(Clinic, Clinic.id == Slot.clinic_id)
        .where(Slot.id == bindparam("answer_slot_id"))
    )


@cache
def take_slot_at(online: bool) -> ReturningUpdate[Slot]:
    """Book a place in the slot of ``at_product_id`` at clinic ``at_clinic_id`` starting at
    ``at_starts_at`` (unique), if it is open, after ``now`` and has room; returning it.

    The same conditions as ``take_statement``, the slot found by its unique key.
    """
    now = bindparam("now", type_=Slot.starts_at.type)
    room = online_free(now) > 0 if online else agent_room()
    return (
        update(Slot)
        .where(
            Slot.clinic_id == bindparam("at_clinic_id"),
            Slot.product_id == bindparam("at_product_id"),
            Slot.starts_at == bindparam("at_starts_at", type_=Slot.starts_at.type),
            Slot.is_open.is_(True),
            Slot.starts_at > now,
            room,
        )
        .values(booked=Slot.booked + 1)
        .returning(Slot)
    )
