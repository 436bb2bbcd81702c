"""A clinic's own work: bulk schedules, capacity, the day's roster, check-in and no-show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from booking.models import Clinic, Reservation, ReservationStatus, Slot
from booking.services.errors import Conflict, InvalidInput, NotFound
from booking.services.inventory import SERVICES, local_day_bounds

MAX_DAYS = 92
MAX_SLOTS = 20_000


@dataclass(frozen=True)
class SchedulePlan:
    """What a bulk creation would make: the slot windows, in UTC, for one service."""

    service: str
    capacity: int
    windows: list[tuple[datetime, datetime]]


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
    service: str,
) -> SchedulePlan:
    """Lay out slots over a date range on the chosen weekdays, in the clinic's time zone."""
    errors: dict[str, str] = {}
    if last < first:
        errors["last"] = "The last day must not be before the first."
    elif (last - first).days >= MAX_DAYS:
        errors["last"] = f"Plan at most {MAX_DAYS} days at a time."
    if not weekdays:
        errors["weekdays"] = "Choose at least one weekday."
    if closes <= opens:
        errors["closes"] = "Closing time must be after opening time."
    if not 5 <= slot_minutes <= 240:
        errors["slot_minutes"] = "Slots are 5 to 240 minutes long."
    if not 1 <= capacity <= 1000:
        errors["capacity"] = "Capacity is 1 to 1,000 people per slot."
    if service not in SERVICES or service not in (clinic.services or []):
        errors["service"] = "Choose a vaccine this clinic offers."
    if errors:
        raise InvalidInput("Please correct the schedule.", errors=errors)
    tz = ZoneInfo(clinic.timezone)
    step = timedelta(minutes=slot_minutes)
    windows: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        if day.weekday() in weekdays:
            start = datetime.combine(day, opens, tzinfo=tz)
            close = datetime.combine(day, closes, tzinfo=tz)
            while start + step <= close:
                windows.append((start, start + step))
                start += step
        day += timedelta(days=1)
    if len(windows) > MAX_SLOTS:
        raise InvalidInput("Too many slots.", errors={"last": "Plan fewer days at a time."})
    return SchedulePlan(service, capacity, windows)


def missing_windows(
    session: Session, clinic: Clinic, plan: SchedulePlan
) -> list[tuple[datetime, datetime]]:
    """The planned windows that do not exist yet (so creating twice creates nothing new)."""
    if not plan.windows:
        return []
    existing = set(
        session.scalars(
            select(Slot.starts_at).where(
                Slot.clinic_id == clinic.id,
                Slot.service == plan.service,
                Slot.starts_at >= plan.windows[0][0],
                Slot.starts_at <= plan.windows[-1][0],
            )
        )
    )
    return [w for w in plan.windows if w[0] not in existing]


def create_schedule(session: Session, clinic: Clinic, plan: SchedulePlan, *, now: datetime) -> int:
    """Insert the planned slots that are missing; the unique index backs the idempotence."""
    windows = missing_windows(session, clinic, plan)
    if windows:
        session.execute(
            insert(Slot),
            [
                {
                    "clinic_id": clinic.id,
                    "service": plan.service,
                    "starts_at": start,
                    "ends_at": end,
                    "capacity": plan.capacity,
                    "held": 0,
                    "booked": 0,
                    "is_open": True,
                    "phone_reserved": 0,
                    "created_at": now,
                }
                for start, end in windows
            ],
        )
    return len(windows)


def set_capacity(session: Session, clinic_id: int, slot_id: int, capacity: int) -> Slot:
    """Change a slot's capacity in one conditional UPDATE: never below what is held or booked."""
    if not 0 <= capacity <= 1000:
        raise InvalidInput("Invalid capacity.", errors={"capacity": "Enter 0 to 1,000."})
    result = session.execute(
        update(Slot)
        .where(
            Slot.id == slot_id,
            Slot.clinic_id == clinic_id,
            Slot.held + Slot.booked <= capacity,
            Slot.phone_reserved <= capacity,
        )
        .values(capacity=capacity),
        execution_options={"synchronize_session": False},
    )
    slot = session.get(Slot, slot_id, populate_existing=True)
    if slot is None or slot.clinic_id != clinic_id:
        raise NotFound("No slot with that id at this clinic.")
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict(
            f"Capacity cannot go below the {slot.held + slot.booked} places already held or "
            "booked (or the places set aside for phone bookings)."
        )
    return slot


def roster(
    session: Session, clinic: Clinic, day: date, *, query: str = ""
) -> list[tuple[Reservation, Slot]]:
    """The day's booked residents, by time; ``query`` matches a name or the code."""
    start, end = local_day_bounds(day, clinic.timezone)
    conditions = [
        Reservation.clinic_id == clinic.id,
        Reservation.status.in_(["confirmed", "checked_in", "no_show"]),
        Slot.starts_at >= start,
        Slot.starts_at < end,
    ]
    text = query.strip()[:100]
    if text:
        like = f"%{text}%"
        code = text.replace("-", "").replace(" ", "").upper()
        conditions.append(
            or_(
                Reservation.first_name.ilike(like),
                Reservation.last_name.ilike(like),
                Reservation.confirmation_code == code,
            )
        )
    rows = session.execute(
        select(Reservation, Slot)
        .join(Slot, Slot.id == Reservation.slot_id)
        .where(*conditions)
        .order_by(Slot.starts_at, Reservation.last_name, Reservation.first_name)
    ).all()
    return [(r, s) for r, s in rows]


def mark_attendance(
    session: Session, clinic_id: int, reservation_id: int, status: str, *, now: datetime
) -> Reservation:
    """Check a resident in or mark them a no-show (a mistake can be flipped to the other)."""
    reservation = session.scalars(
        select(Reservation).where(Reservation.id == reservation_id).with_for_update()
    ).one_or_none()
    # Another clinic's record is "not found" whatever else is wrong with the request.
    if reservation is None or reservation.clinic_id != clinic_id:
        raise NotFound("No such reservation at this clinic.")
    if status not in ("checked_in", "no_show"):
        raise InvalidInput("Unknown state.", errors={"status": "Choose check-in or no-show."})
    if reservation.status not in ("confirmed", "checked_in", "no_show"):
        raise Conflict("Only a booked appointment can be checked in or marked a no-show.")
    # All three count as booked, so the slot's counters do not move.
    reservation.status = ReservationStatus(status).value
    reservation.updated_at = now
    session.flush()
    return reservation
