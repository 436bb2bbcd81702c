"""A clinic's own work: bulk schedules, capacity, closings, the roster, check-in and no-show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from booking.models import (
    BOOKED_STATUSES,
    Clinic,
    Reservation,
    ReservationStatus,
    Slot,
    VaccineProduct,
)
from booking.services import closures
from booking.services.errors import Conflict, InvalidInput, NotFound
from booking.services.inventory import SERVICES, local_day_bounds
from booking.services.notices import DEFAULT_NOTICES, NoticePolicy
from booking.services.products import default_product
from booking.services.text import N_

MAX_DAYS = 92
MAX_SLOTS = 20_000
MAX_CAPACITY = 1000
MAX_EXPORT_DAYS = 31
BOOKED = tuple(status.value for status in BOOKED_STATUSES)
# Check in, mark a no-show, or undo either (back to booked).
ATTENDANCE = (
    ReservationStatus.CHECKED_IN.value,
    ReservationStatus.NO_SHOW.value,
    ReservationStatus.CONFIRMED.value,
)
# Rows per INSERT: SQLite allows 32,766 bound parameters per statement and a slot row has 11.
_INSERT_CHUNK = 1000


@dataclass(frozen=True)
class SchedulePlan:
    """What a bulk creation would make: the slot windows, in UTC, for one product.

    Without a product (a service-only form) the slots are for the service's default product.
    """

    service: str
    capacity: int
    windows: list[tuple[datetime, datetime]]
    product_id: int | None = None


def clinic_today(clinic: Clinic, now: datetime) -> date:
    """The calendar date at the clinic right now."""
    return now.astimezone(ZoneInfo(clinic.timezone)).date()


def plan_schedule(
    clinic: Clinic,
    *,
    first: date,
    last: date,
    weekdays: set[int],
    opens: time,
    closes: time,
    slot_minutes: int,
    capacity: int,
    now: datetime,
    service: str = "",
    product: VaccineProduct | None = None,
) -> SchedulePlan:
    """Lay out slots of a product (or a service) over a date range, in the clinic's time zone."""
    errors: dict[str, str] = {}
    if first < clinic_today(clinic, now):
        errors["first"] = N_("The first day must be today or later.")
    if last < first:
        errors["last"] = N_("The last day must not be before the first.")
    elif (last - first).days >= MAX_DAYS:
        errors["last"] = N_("Plan at most %(num)d days at a time.", num=MAX_DAYS)
    if not weekdays or not weekdays <= set(range(7)):
        errors["weekdays"] = N_("Choose at least one weekday.")
    if closes <= opens:
        errors["closes"] = N_("Closing time must be after opening time.")
    if not 5 <= slot_minutes <= 240:
        errors["slot_minutes"] = N_("Slots are 5 to 240 minutes long.")
    if not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = N_("Capacity is 1 to 1,000 people per slot.")
    if product is not None:
        service = product.service
        if not product.active or service not in (clinic.services or []):
            errors["product_id"] = N_("Choose a vaccine this clinic offers.")
    elif not service:
        errors["product_id"] = N_("Choose a vaccine this clinic offers.")
    elif service not in SERVICES or service not in (clinic.services or []):
        errors["service"] = N_("Choose a vaccine this clinic offers.")
    if errors:
        raise InvalidInput(N_("Please correct the schedule."), errors=errors)
    tz = ZoneInfo(clinic.timezone)
    step = timedelta(minutes=slot_minutes)
    windows: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        if day.weekday() in weekdays:
            # Step in UTC: wall-clock arithmetic would make a DST day's slots overlap or gap.
            start = datetime.combine(day, opens, tzinfo=tz).astimezone(UTC)
            close = datetime.combine(day, closes, tzinfo=tz).astimezone(UTC)
            while start + step <= close:
                if start > now:  # today's hours that are already past are left out
                    windows.append((start, start + step))
                start += step
        day += timedelta(days=1)
        if len(windows) > MAX_SLOTS:
            raise InvalidInput(
                N_("Too many slots."),
                errors={
                    "last": N_(
                        "That is over %(num)s slots; plan fewer days at a time.",
                        num=f"{MAX_SLOTS:,}",
                    )
                },
            )
    return SchedulePlan(service, capacity, windows, product.id if product else None)


def plan_product_id(session: Session, plan: SchedulePlan) -> int:
    """The product the plan's slots are for: its own, else its service's default."""
    return plan.product_id or default_product(session, plan.service).id


def missing_windows(
    session: Session, clinic: Clinic, plan: SchedulePlan
) -> list[tuple[datetime, datetime]]:
    """The planned windows that do not exist yet (what creating would add)."""
    if not plan.windows:
        return []
    existing = set(
        session.scalars(
            select(Slot.starts_at).where(
                Slot.clinic_id == clinic.id,
                Slot.product_id == plan_product_id(session, plan),
                Slot.starts_at >= plan.windows[0][0],
                Slot.starts_at <= plan.windows[-1][0],
            )
        )
    )
    return [w for w in plan.windows if w[0] not in existing]


@dataclass(frozen=True)
class PlannedDay:
    """One day of a schedule's preview: how many slots it would add, from when to when."""

    day: date
    slots: int
    first: datetime
    last: datetime


def days_of(clinic: Clinic, windows: list[tuple[datetime, datetime]]) -> list[PlannedDay]:
    """The windows summed up per local day of the clinic, in order."""
    zone = ZoneInfo(clinic.timezone)
    days: dict[date, list[datetime]] = {}
    for start, _end in windows:
        days.setdefault(start.astimezone(zone).date(), []).append(start)
    return [PlannedDay(day, len(starts), starts[0], starts[-1]) for day, starts in days.items()]


def usual_capacity(session: Session, clinic: Clinic) -> int | None:
    """The capacity most of the clinic's slots have (the schedule form's default)."""
    return session.scalars(
        select(Slot.capacity)
        .where(Slot.clinic_id == clinic.id)
        .group_by(Slot.capacity)
        .order_by(func.count().desc(), Slot.capacity.desc())
        .limit(1)
    ).first()


def create_schedule(session: Session, clinic: Clinic, plan: SchedulePlan, *, now: datetime) -> int:
    """Insert the planned slots that do not exist yet and return how many were new.

    Running it twice, or twice at once, creates each slot once: rows that already exist are
    skipped by the unique index on clinic + start + product (ON CONFLICT DO NOTHING).
    """
    product_id = plan_product_id(session, plan)
    rows = [
        {
            "clinic_id": clinic.id,
            "service": plan.service,
            "product_id": product_id,
            "starts_at": start,
            "ends_at": end,
            "capacity": plan.capacity,
            "held": 0,
            "booked": 0,
            "is_open": True,
            "phone_reserved": 0,
            "created_at": now,
        }
        for start, end in missing_windows(session, clinic, plan)
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created = 0
    for offset in range(0, len(rows), _INSERT_CHUNK):
        statement = (
            insert(Slot)
            .values(rows[offset : offset + _INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["clinic_id", "starts_at", "product_id"])
            .returning(Slot.id)
        )
        created += len(session.execute(statement).all())
    return created


def set_capacity(session: Session, clinic_id: int, slot_id: int, capacity: int) -> int:
    """Change a slot's capacity in one conditional UPDATE and return the previous capacity.

    The condition is checked by the database at the moment of the write, so a booking racing
    with the edit can never leave the slot holding more people than its capacity.
    """
    if not 0 <= capacity <= MAX_CAPACITY:
        raise InvalidInput(N_("Invalid capacity."), errors={"capacity": N_("Enter 0 to 1,000.")})
    previous = session.scalar(
        select(Slot.capacity).where(Slot.id == slot_id, Slot.clinic_id == clinic_id)
    )
    if previous is None:
        raise NotFound(N_("No slot with that id at this clinic."))
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Slot)
            .where(
                Slot.id == slot_id,
                Slot.clinic_id == clinic_id,
                Slot.held + Slot.booked + Slot.invite_reserved <= capacity,
                Slot.phone_reserved <= capacity,
            )
            .values(capacity=capacity),
            execution_options={"synchronize_session": False},
        ),
    )
    if not result.rowcount:
        slot = session.get(Slot, slot_id, populate_existing=True)
        assert slot is not None
        raise Conflict(
            N_("Capacity cannot go below what is taken."),
            errors={
                "capacity": N_(
                    "Capacity cannot go below the %(taken)d places already held or booked, "
                    "or the %(reserved)d set aside for phone bookings.",
                    taken=slot.held + slot.booked,
                    reserved=slot.phone_reserved,
                )
            },
        )
    session.get(Slot, slot_id, populate_existing=True)  # a loaded slot shows the new capacity
    return previous


def day_slots(session: Session, clinic: Clinic, day: date) -> list[Slot]:
    """Every slot of the clinic on a local day, open or closed, earliest first."""
    start, end = local_day_bounds(day, clinic.timezone)
    return list(
        session.scalars(
            select(Slot)
            .where(Slot.clinic_id == clinic.id, Slot.starts_at >= start, Slot.starts_at < end)
            .order_by(Slot.starts_at, Slot.service, Slot.id)
        )
    )


def roster(
    session: Session, clinic: Clinic, first: date, last: date | None = None, *, query: str = ""
) -> list[tuple[Reservation, Slot]]:
    """The booked residents from ``first`` to ``last`` (local days), by time.

    Each word of ``query`` must match a first name, a last name or the confirmation code.
    """
    start = local_day_bounds(first, clinic.timezone)[0]
    end = local_day_bounds(last or first, clinic.timezone)[1]
    conditions = [
        Reservation.clinic_id == clinic.id,
        Reservation.status.in_(BOOKED),
        Slot.starts_at >= start,
        Slot.starts_at < end,
    ]
    for word in query.split()[:5]:
        code = word.replace("-", "").upper()
        conditions.append(
            or_(
                Reservation.first_name.icontains(word, autoescape=True),
                Reservation.last_name.icontains(word, autoescape=True),
                Reservation.confirmation_code == code,
            )
        )
    rows = session.execute(
        select(Reservation, Slot)
        .join(Slot, and_(Slot.id == Reservation.slot_id, Slot.clinic_id == clinic.id))
        .where(*conditions)
        .order_by(Slot.starts_at, Reservation.last_name, Reservation.first_name, Reservation.id)
    ).all()
    return [(reservation, slot) for reservation, slot in rows]


def mark_attendance(
    session: Session, clinic_id: int, reservation_id: int, status: str, *, now: datetime
) -> str:
    """Check a resident in, mark them a no-show, or undo either; return the status before.

    A mistake can be corrected by marking the other, or undone (``confirmed``: booked again).
    All three booked statuses count as booked, so the slot's counters do not move.
    """
    reservation = session.scalars(
        select(Reservation)
        .where(Reservation.id == reservation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    # Another clinic's record is "not found" whatever else is wrong with the request.
    if reservation is None or reservation.clinic_id != clinic_id:
        raise NotFound(N_("No such reservation at this clinic."))
    if status not in ATTENDANCE:
        raise InvalidInput(
            N_("Unknown state."), errors={"status": N_("Choose check-in, no-show or undo.")}
        )
    if reservation.status not in BOOKED:
        raise Conflict(N_("Only a booked appointment can be checked in or marked a no-show."))
    slot = session.get(Slot, reservation.slot_id)
    clinic = session.get(Clinic, clinic_id)
    assert slot is not None and clinic is not None
    if status == ReservationStatus.CHECKED_IN and clinic_today(clinic, now) < (
        slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
    ):
        raise Conflict(N_("Check-in opens on the day of the appointment."))
    if status == ReservationStatus.NO_SHOW and now < slot.starts_at:
        raise Conflict(N_("A resident can be marked a no-show only once their time has begun."))
    before = reservation.status
    reservation.status = status
    reservation.updated_at = now
    session.flush()
    return before


def close_slot(
    session: Session,
    clinic_id: int,
    slot_id: int,
    *,
    now: datetime,
    reason: str | None = None,
    notices: NoticePolicy = DEFAULT_NOTICES,
) -> closures.ClosureReport:
    """Close one slot: cancel its bookings (each resident is sent a notice), release its holds."""
    slot = session.get(Slot, slot_id)
    if slot is None or slot.clinic_id != clinic_id:
        raise NotFound(N_("No slot with that id at this clinic."))
    if slot.ends_at <= now:
        raise InvalidInput(
            N_("That time is over."), errors={"slot_id": N_("That time is already over.")}
        )
    return closures.cancel_slots(session, [slot_id], now=now, reason=reason, notices=notices)


def close_day(
    session: Session,
    clinic: Clinic,
    day: date,
    *,
    now: datetime,
    reason: str | None = None,
    notices: NoticePolicy = DEFAULT_NOTICES,
) -> closures.ClosureReport:
    """Close the rest of a local day: every slot not yet over (see ``close_slot``)."""
    return closures.cancel_clinic_day(
        session, clinic.id, day, now=now, reason=reason, notices=notices
    )
