"""The state admins' dashboard figures: appointments, free places and messages, in totals.

Every figure is one statement over a range of an indexed time column, in SQL that runs the same
on PostgreSQL and SQLite. Slots are summed per start time in the database (a few thousand start
times in two weeks, however many slots) and those sums put into hours or days here; messages,
each with its own time, are counted into days by CASE expressions in the database.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session

from booking.models import Clinic, MessageStatus, OutboxMessage, Reservation, Slot

# The state's own clock: where "today" begins for the state's figures and its audit log.
STATE_TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class HourFigures:
    """One hour of one day's appointments: places offered and places booked."""

    starts_at: datetime  # the hour's start, in the state's time zone
    capacity: int
    booked: int

    @property
    def use_percent(self) -> int:
        """Share of the hour's places booked."""
        return round(100 * self.booked / self.capacity) if self.capacity else 0


@dataclass(frozen=True)
class DayPlaces:
    """One day's places in open times still ahead: offered, booked, held and free."""

    day: date
    capacity: int
    booked: int
    held: int

    @property
    def free(self) -> int:
        """Places nobody has booked or is holding."""
        return self.capacity - self.booked - self.held


@dataclass(frozen=True)
class DayMessages:
    """Messages to residents that one day sent, and that one day gave up on."""

    day: date
    sent: int
    failed: int


@dataclass
class DayFigures:
    """One clinic's (or a total's) figures on one local day."""

    capacity: int = 0
    booked: int = 0
    checked_in: int = 0
    no_show: int = 0

    @property
    def use_percent(self) -> int:
        """Share of capacity booked."""
        return round(100 * self.booked / self.capacity) if self.capacity else 0

    def add(self, other: DayFigures) -> None:
        """Count ``other`` into this total."""
        self.capacity += other.capacity
        self.booked += other.booked
        self.checked_in += other.checked_in
        self.no_show += other.no_show


@dataclass
class ClinicWeek:
    """Clinics by day, with a total per clinic, per day and overall."""

    clinics: list[Clinic]
    dates: list[date]
    cells: dict[tuple[int, date], DayFigures] = field(default_factory=dict)
    by_clinic: dict[int, DayFigures] = field(default_factory=dict)
    by_day: dict[date, DayFigures] = field(default_factory=dict)
    total: DayFigures = field(default_factory=DayFigures)


def state_today(now: datetime) -> date:
    """The state's calendar day at ``now``."""
    return now.astimezone(ZoneInfo(STATE_TIMEZONE)).date()


def day_edges(start: date, days: int, tz: str = STATE_TIMEZONE) -> list[datetime]:
    """The instants where ``days`` local days from ``start`` begin, and where the last ends."""
    zone = ZoneInfo(tz)
    return [datetime.combine(start + timedelta(days=i), time.min, zone) for i in range(days + 1)]


def hour_edges(day: date, tz: str = STATE_TIMEZONE) -> list[datetime]:
    """The local day's hours as instants (23 or 25 of them on the days clocks change)."""
    # Arithmetic on aware datetimes of one zone is wall-clock time: count in UTC instead.
    begin, end = (edge.astimezone(UTC) for edge in day_edges(day, 1, tz))
    count = round((end - begin).total_seconds() / 3600)
    zone = ZoneInfo(tz)
    return [(begin + timedelta(hours=i)).astimezone(zone) for i in range(count + 1)]


def _bucket_sums(
    session: Session,
    moment: Any,
    edges: Sequence[datetime],
    values: Sequence[Any],
    *where: ColumnElement[bool],
) -> list[tuple[int, ...]]:
    """Count (sum ``values``) in the database over the rows whose ``moment`` lies in each
    [edge, next edge): one CASE per bucket, for rows too many to send back one by one."""
    columns = [
        func.coalesce(func.sum(case((and_(moment >= low, moment < high), value), else_=0)), 0)
        for low, high in pairwise(edges)
        for value in values
    ]
    row = session.execute(
        select(*columns).where(moment >= edges[0], moment < edges[-1], *where)
    ).one()
    width = len(values)
    return [tuple(int(v) for v in row[i : i + width]) for i in range(0, len(row), width)]


def _sums_by_start(
    session: Session, edges: Sequence[datetime], values: Sequence[Any], *where: ColumnElement[bool]
) -> list[tuple[int, ...]]:
    """Sum each of ``values`` over the slots starting in each [edge, next edge)."""
    rows = session.execute(
        select(Slot.starts_at, *(func.sum(v) for v in values))
        .where(Slot.starts_at >= edges[0], Slot.starts_at < edges[-1], *where)
        .group_by(Slot.starts_at)
    )
    sums = [[0] * len(values) for _ in range(len(edges) - 1)]
    for starts_at, *row in rows:
        bucket = sums[bisect_right(edges, starts_at) - 1]
        for i, value in enumerate(row):
            bucket[i] += int(value or 0)
    return [tuple(bucket) for bucket in sums]


def hours_of_day(session: Session, *, day: date) -> list[HourFigures]:
    """Places offered and booked by hour of the state's day, from the first busy hour to the last.

    Closed times offer no places; what they still hold booked is counted.
    """
    edges = hour_edges(day)
    offered = case((Slot.is_open.is_(True), Slot.capacity), else_=0)
    sums = _sums_by_start(session, edges, [offered, Slot.booked])
    hours = [HourFigures(edge, *row) for edge, row in zip(edges[:-1], sums, strict=True)]
    busy = [i for i, hour in enumerate(hours) if hour.capacity or hour.booked]
    return hours[busy[0] : busy[-1] + 1] if busy else []


def places_by_day(session: Session, *, now: datetime, days: int) -> list[DayPlaces]:
    """From the state's today on: places in open times that have not begun, by local day."""
    edges = day_edges(state_today(now), days)
    sums = _sums_by_start(
        session,
        edges,
        [Slot.capacity, Slot.booked, Slot.held],
        Slot.is_open.is_(True),
        Slot.starts_at > now,
    )
    return [DayPlaces(edge.date(), *row) for edge, row in zip(edges[:-1], sums, strict=True)]


def _count_messages(
    session: Session, status: MessageStatus, moment: Any, edges: Sequence[datetime]
) -> list[tuple[int, ...]]:
    return _bucket_sums(session, moment, edges, [literal(1)], OutboxMessage.status == status.value)


def messages_by_day(session: Session, *, now: datetime, days: int) -> list[DayMessages]:
    """The last ``days`` local days up to today: messages sent (when sent) and failed (when)."""
    first = state_today(now) - timedelta(days=days - 1)
    edges = day_edges(first, days)
    sent = _count_messages(session, MessageStatus.SENT, OutboxMessage.sent_at, edges)
    # A failed message's last change is when it was given up on (a retry queues it again).
    failed = _count_messages(session, MessageStatus.FAILED, OutboxMessage.updated_at, edges)
    rows = zip(edges[:-1], sent, failed, strict=True)
    return [DayMessages(edge.date(), s, f) for edge, (s,), (f,) in rows]


def messages_waiting(session: Session) -> int:
    """Messages queued or being sent now (reminders not yet due included)."""
    waiting = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
    return int(
        session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(waiting))
        )
        or 0
    )


def clinic_week(session: Session, *, start: date, days: int) -> ClinicWeek:
    """Capacity, bookings, check-ins and no-shows by clinic and the clinic's local day."""
    week = ClinicWeek(list(session.scalars(select(Clinic).order_by(Clinic.name))), [])
    week.dates = [start + timedelta(days=i) for i in range(days)]
    zones = {c.id: ZoneInfo(c.timezone) for c in week.clinics}
    # A day either side covers every time zone; rows outside the window are dropped below.
    lower = datetime.combine(start - timedelta(days=1), time.min, ZoneInfo("UTC"))
    upper = lower + timedelta(days=days + 2)
    in_window = (Slot.starts_at >= lower, Slot.starts_at < upper)
    slot_rows = session.execute(
        select(Slot.clinic_id, Slot.starts_at, func.sum(Slot.capacity), func.sum(Slot.booked))
        .where(*in_window)
        .group_by(Slot.clinic_id, Slot.starts_at)
    )
    cells: dict[tuple[int, date], DayFigures] = {}

    def cell(clinic_id: int, starts_at: datetime) -> DayFigures | None:
        day = starts_at.astimezone(zones[clinic_id]).date()
        if day not in week.dates:
            return None
        return cells.setdefault((clinic_id, day), DayFigures())

    for clinic_id, starts_at, capacity, booked in slot_rows:
        if (figures := cell(clinic_id, starts_at)) is not None:
            figures.capacity += int(capacity)
            figures.booked += int(booked)
    status_rows = session.execute(
        select(Reservation.clinic_id, Slot.starts_at, Reservation.status, func.count())
        .join(Slot, Slot.id == Reservation.slot_id)
        .where(*in_window, Reservation.status.in_(["checked_in", "no_show"]))
        .group_by(Reservation.clinic_id, Slot.starts_at, Reservation.status)
    )
    for clinic_id, starts_at, status, count in status_rows:
        if (figures := cell(clinic_id, starts_at)) is not None:
            if status == "checked_in":
                figures.checked_in += count
            else:
                figures.no_show += count
    week.cells = cells
    for (clinic_id, day), figures in cells.items():
        week.by_clinic.setdefault(clinic_id, DayFigures()).add(figures)
        week.by_day.setdefault(day, DayFigures()).add(figures)
        week.total.add(figures)
    return week
