"""What the 2-1-1 agent console needs beyond the residents' services: finding times on a call.

Agents draw on the same inventory as residents, but may also take the places set aside for
phone bookings, so "free" here means ``held + booked < capacity`` on an open, future slot.
Finding a caller's booking takes either the code and date of birth or the name, date of birth
and phone; every miss answers with the same message, so a guess reveals nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from booking.models import Clinic, OutboxMessage, Reservation, ReservationStatus, Slot
from booking.services.errors import NotFound
from booking.services.inventory import ClinicResult, local_day_bounds
from booking.services.reservations import MIN_OVERRIDE_REASON as MIN_OVERRIDE_REASON
from booking.services.reservations import find_by_code
from booking.services.slot_counts import agent_room
from booking.services.tokens import person_key
from booking.services.validation import normalize_phone

NOT_FOUND = "No booking matches those details. Check them with the caller and try again."


_PHONETIC = {
    "A": "Alfa", "B": "Bravo", "C": "Charlie", "D": "Delta", "E": "Echo", "F": "Foxtrot",
    "G": "Golf", "H": "Hotel", "J": "Juliett", "K": "Kilo", "M": "Mike", "N": "November",
    "P": "Papa", "Q": "Quebec", "R": "Romeo", "S": "Sierra", "T": "Tango", "W": "Whiskey",
    "X": "X-ray", "Y": "Yankee", "Z": "Zulu", "2": "two", "3": "three", "4": "four",
    "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine",
}  # fmt: skip


@dataclass(frozen=True)
class ClinicTimes:
    """A clinic near the caller with its next times an agent can book."""

    clinic: Clinic
    distance_miles: float
    times: list[Slot]


def agent_free() -> ColumnElement[bool]:
    """A place an agent may take: any free place, the phone set-aside included."""
    return agent_room()


def _bookable(now: datetime) -> list[ColumnElement[bool]]:
    return [Slot.is_open.is_(True), Slot.starts_at > now, agent_free()]


def _day_window(clinics: Sequence[Clinic], day: date) -> ColumnElement[bool]:
    # Each clinic's own calendar day: clinics in one search may, in principle, differ in zone.
    by_zone: dict[str, list[int]] = {}
    for clinic in clinics:
        by_zone.setdefault(clinic.timezone, []).append(clinic.id)
    parts = []
    for zone, ids in by_zone.items():
        start, end = local_day_bounds(day, zone)
        parts.append(and_(Slot.clinic_id.in_(ids), Slot.starts_at >= start, Slot.starts_at < end))
    return or_(*parts)


def next_times(
    session: Session,
    near: Sequence[ClinicResult],
    *,
    now: datetime,
    day: date | None = None,
    service: str | None = None,
    horizon_days: int = 14,
    per_clinic: int = 4,
) -> list[ClinicTimes]:
    """For clinics already found near the caller, their next ``per_clinic`` bookable times."""
    if not near:
        return []
    clinics = [result.clinic for result in near]
    conditions = [Slot.clinic_id.in_([c.id for c in clinics]), *_bookable(now)]
    if service:
        conditions.append(Slot.service == service)
    if day is None:
        conditions.append(Slot.starts_at < now + timedelta(days=horizon_days))
    else:
        conditions.append(_day_window(clinics, day))
    rank = (
        func.row_number()
        .over(partition_by=Slot.clinic_id, order_by=(Slot.starts_at, Slot.id))
        .label("rank")
    )
    ranked = select(Slot.id, rank).where(*conditions).subquery()
    slots = session.scalars(
        select(Slot)
        .join(ranked, ranked.c.id == Slot.id)
        .where(ranked.c.rank <= per_clinic)
        .order_by(Slot.starts_at, Slot.id)
    ).all()
    times: dict[int, list[Slot]] = {}
    for slot in slots:
        times.setdefault(slot.clinic_id, []).append(slot)
    return [ClinicTimes(r.clinic, r.distance_miles, times.get(r.clinic.id, [])) for r in near]


def free_on_day(
    session: Session, clinic: Clinic, day: date, *, now: datetime, service: str | None = None
) -> list[Slot]:
    """A clinic's times on a local date that an agent can still book, earliest first."""
    start, end = local_day_bounds(day, clinic.timezone)
    conditions = [
        Slot.clinic_id == clinic.id,
        *_bookable(now),
        Slot.starts_at >= start,
        Slot.starts_at < end,
    ]
    if service:
        conditions.append(Slot.service == service)
    return list(session.scalars(select(Slot).where(*conditions).order_by(Slot.starts_at, Slot.id)))


def free_days(
    session: Session, clinic: Clinic, *, now: datetime, days: int, service: str | None = None
) -> list[tuple[date, int]]:
    """Each of the clinic's next ``days`` local dates with the places an agent can still book."""
    today = now.astimezone(ZoneInfo(clinic.timezone)).date()
    start, _ = local_day_bounds(today, clinic.timezone)
    _, end = local_day_bounds(today + timedelta(days=days - 1), clinic.timezone)
    conditions = [Slot.clinic_id == clinic.id, *_bookable(now), Slot.starts_at >= start]
    if service:
        conditions.append(Slot.service == service)
    rows = session.execute(
        select(
            Slot.starts_at, Slot.capacity - Slot.held - Slot.booked - Slot.invite_reserved
        ).where(*conditions, Slot.starts_at < end)
    ).all()
    counts: dict[date, int] = {today + timedelta(days=i): 0 for i in range(days)}
    for starts_at, free in rows:
        local = starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
        if local in counts:
            counts[local] += int(free)
    return sorted(counts.items())


def find_by_code_and_dob(session: Session, code: str, date_of_birth: date) -> Reservation:
    """The booking with this confirmation code, if the date of birth matches."""
    try:
        return find_by_code(session, code[:32], date_of_birth)
    except NotFound:
        raise NotFound(NOT_FOUND) from None


def find_by_person(
    session: Session, *, first_name: str, last_name: str, date_of_birth: date, phone: str
) -> list[Reservation]:
    """Bookings for this person (normalized name and birth date) reachable at this phone."""
    normalized = normalize_phone(phone)
    if normalized is None:
        raise NotFound(NOT_FOUND)
    found = session.scalars(
        select(Reservation)
        .where(
            Reservation.person_key == person_key(first_name, last_name, date_of_birth),
            Reservation.phone == normalized,
            Reservation.confirmation_code.is_not(None),
        )
        .order_by(Reservation.confirmed_at.desc(), Reservation.id.desc())
        .limit(20)
    ).all()
    if not found:
        raise NotFound(NOT_FOUND)
    return list(found)


def override_reason(raw: object) -> str | None:
    """The agent's written reason for booking someone the rules refuse, if it is long enough."""
    if not isinstance(raw, str):
        return None
    text = " ".join(raw.split())[:500]
    return text if len(text) >= MIN_OVERRIDE_REASON else None


def spell_code(code: str) -> list[tuple[str, str]]:
    """Each character of a code with the word to read it by ("K", "Kilo")."""
    return [(ch, _PHONETIC.get(ch, ch)) for ch in code if ch != "-"]


def other_bookings(session: Session, reservation: Reservation) -> list[tuple[Reservation, Slot]]:
    """The person's other confirmed bookings (any vaccine, any clinic), soonest first.

    The same person key as the booking (name and date of birth), so the agent sees what else
    the caller has before changing anything; this booking's own course doses are left out
    (the page shows them as "Both doses").
    """
    if not reservation.person_key:
        return []
    same_course = {reservation.id, reservation.course_id or 0}
    rows = session.execute(
        select(Reservation, Slot)
        .join(Slot, Slot.id == Reservation.slot_id)
        .where(
            Reservation.person_key == reservation.person_key,
            Reservation.status == ReservationStatus.CONFIRMED.value,
            Reservation.id.not_in(same_course),
            or_(Reservation.course_id.is_(None), Reservation.course_id != reservation.id),
        )
        .order_by(Slot.starts_at)
        .limit(20)
    ).all()
    return [(booking, slot) for booking, slot in rows]


def booking_messages(session: Session, reservation_id: int) -> list[OutboxMessage]:
    """The messages written for a booking, newest first: what the caller should have received."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.reservation_id == reservation_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(30)
        )
    )
