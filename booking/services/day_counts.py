"""Search's free places from the per clinic-day counts (migration 0016), and folding them.

The slot triggers append a signed delta for every change, in the writer's own transaction, so
a clinic-day's folded row plus its not-yet-folded deltas is exact at any commit. Reading both in
one statement sees one snapshot: a fold that committed moved deltas into the row, one that did
not left them where they were. Days the counts cannot answer alone (today, where ``starts_at >
now`` cuts the day; the horizon's last day, cut by ``now + horizon``; a searched day in another
clinic's time zone) are read from their slots, which is a short index range per clinic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select, text, union_all
from sqlalchemy.orm import Session

from booking.models import Slot, SlotDayCount, SlotDayDelta
from booking.services.slot_counts import online_free

KEY = "clinic_id, day, service, product_id, release_at"
ONE_DAY = timedelta(days=1)
SUMS = "sum(slots), sum(free_held), sum(free_released)"
UPSERT = f"""
ON CONFLICT ({KEY}) DO UPDATE SET
  slots = slot_day_count.slots + excluded.slots,
  free_held = slot_day_count.free_held + excluded.free_held,
  free_released = slot_day_count.free_released + excluded.free_released"""
# PostgreSQL: the deltas a fold deletes are exactly the ones it adds; a concurrent fold waits
# on those rows and then skips them, and deltas of uncommitted writers are left for next time.
_FOLD_PG = f"""
WITH moved AS (DELETE FROM slot_day_delta RETURNING {KEY}, slots, free_held, free_released)
INSERT INTO slot_day_count ({KEY}, slots, free_held, free_released)
SELECT {KEY}, {SUMS} FROM moved GROUP BY {KEY} {UPSERT}"""  # noqa: S608 (constants)
# SQLite has one writer at a time: everything up to the highest id moves in one transaction.
_FOLD_SQLITE = f"""
INSERT INTO slot_day_count ({KEY}, slots, free_held, free_released)
SELECT {KEY}, {SUMS} FROM slot_day_delta WHERE id <= :last GROUP BY {KEY} {UPSERT}"""  # noqa: S608 (constants)


def fold(session: Session) -> int:
    """Fold the committed deltas into the per clinic-day rows; return how many rows moved."""
    if session.get_bind().dialect.name == "postgresql":
        moved = session.scalar(select(func.count()).select_from(SlotDayDelta))
        session.execute(text(_FOLD_PG))
    else:
        last = session.scalar(select(func.max(SlotDayDelta.id)))
        if last is None:
            return 0
        moved = session.scalar(select(func.count()).where(SlotDayDelta.id <= last))
        session.execute(text(_FOLD_SQLITE), {"last": last})
        session.execute(text("DELETE FROM slot_day_delta WHERE id <= :last"), {"last": last})
    # A key whose slots are all gone (moved, deleted) has nothing left to say.
    session.execute(text("DELETE FROM slot_day_count WHERE slots = 0"))
    return int(moved or 0)


def vaccine_filter(service: str | None, product_id: int | None) -> list[ColumnElement[bool]]:
    """The slot conditions of a service and product filter."""
    conditions = [Slot.service == service] if service else []
    if product_id is not None:
        conditions.append(Slot.product_id == product_id)
    return conditions


def free_by_day(
    session: Session,
    clinic_ids: Iterable[int],
    first: date,
    last: date,
    *,
    now: datetime,
    service: str | None = None,
    product_id: int | None = None,
) -> dict[tuple[int, date], int]:
    """Online-free places of open slots per (clinic, local day) from ``first`` to ``last``,
    counting every slot of each day (the caller keeps days that have not begun)."""
    ids = list(clinic_ids)
    if not ids or last < first:
        return {}
    parts = []
    for table in (SlotDayCount, SlotDayDelta):
        conditions: list[ColumnElement[bool]] = [
            table.clinic_id.in_(ids),
            table.day.between(first, last),
        ]
        if service:
            conditions.append(table.service == service)
        if product_id is not None:
            conditions.append(table.product_id == product_id)
        columns = (table.clinic_id, table.day, table.release_at)
        parts.append(select(*columns, table.free_held, table.free_released).where(*conditions))
    rows = union_all(*parts).subquery()
    # A row holds only slots of one phone release time (or none that matters): exact at `now`.
    free = case((rows.c.release_at > now, rows.c.free_held), else_=rows.c.free_released)
    result = session.execute(
        select(rows.c.clinic_id, rows.c.day, func.sum(free)).group_by(rows.c.clinic_id, rows.c.day)
    )
    return {(clinic_id, _as_date(day)): int(total or 0) for clinic_id, day, total in result}


def _as_date(value: date | str) -> date:
    # A union's column comes back as SQLite's text on some versions.
    return date.fromisoformat(value) if isinstance(value, str) else value


def bookable(now: datetime) -> list[ColumnElement[bool]]:
    """What residents can book online: the phone set-aside is not theirs until its cutoff."""
    return [Slot.is_open.is_(True), Slot.starts_at > now, online_free(now) > 0]


Span = tuple[tuple[int, ...], datetime | None, datetime | None]


def scan(
    session: Session,
    spans: list[Span],
    *,
    now: datetime,
    service: str | None,
    product_id: int | None,
) -> dict[int, tuple[int, datetime]]:
    """Free places and first time of the bookable slots per clinic, over (clinics, from, until)
    spans (a clinic's spans summed; clinics with none left out). Spans come grouped by bounds,
    so a search's spans are a few, however many clinics it finds."""
    if not spans:
        return {}
    ranges = []
    for clinic_ids, start, end in spans:
        bounds: list[ColumnElement[bool]] = [Slot.clinic_id.in_(clinic_ids)]
        if start is not None:
            bounds.append(Slot.starts_at >= start)
        if end is not None:
            bounds.append(Slot.starts_at < end)
        ranges.append(and_(*bounds))
    rows = session.execute(
        select(Slot.clinic_id, func.sum(online_free(now)), func.min(Slot.starts_at))
        .where(or_(*ranges), *bookable(now), *vaccine_filter(service, product_id))
        .group_by(Slot.clinic_id)
    ).all()
    return {clinic_id: (int(total or 0), as_utc(first)) for clinic_id, total, first in rows}


def _grouped(spans: list[tuple[int, datetime | None, datetime | None]]) -> list[Span]:
    groups: dict[tuple[datetime | None, datetime | None], list[int]] = {}
    for clinic_id, start, end in spans:
        groups.setdefault((start, end), []).append(clinic_id)
    return [(tuple(ids), start, end) for (start, end), ids in groups.items()]


def as_utc(value: datetime) -> datetime:
    """An aggregate's datetime as aware UTC (min() bypasses the column type; SQLite is naive)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def clinics_free(
    session: Session,
    clinics: list[tuple[int, str]],
    *,
    now: datetime,
    day: date | None,
    horizon_days: int,
    service: str | None = None,
    product_id: int | None = None,
) -> dict[int, tuple[int, datetime | None]]:
    """Per clinic (id, time zone): online-free places in open, future slots and the first
    bookable time, over the horizon from ``now`` or on a local ``day`` (the first clinic's time
    zone, as the slot scan did); the same answer as summing the slots, from the counts."""
    if not clinics:
        return {}
    spans: list[tuple[int, datetime | None, datetime | None]] = []
    inside: dict[int, tuple[date, date]] = {}  # clinic: first and last day the counts answer
    splits: dict[int, datetime] = {}  # clinic: where the today span ends
    first_zone = ZoneInfo(clinics[0][1])
    for clinic_id, zone_name in clinics:
        zone = ZoneInfo(zone_name)
        today = now.astimezone(zone).date()
        if day is not None:
            if zone_name == clinics[0][1] and day > today:
                inside[clinic_id] = (day, day)
            else:
                start = _day_start(day, first_zone)
                spans.append((clinic_id, start, _day_start(day + ONE_DAY, first_zone)))
            continue
        until = now + timedelta(days=horizon_days)
        last = until.astimezone(zone).date()
        splits[clinic_id] = _day_start(today + ONE_DAY, zone)
        if last <= today + ONE_DAY:
            spans.append((clinic_id, None, until))
            continue
        inside[clinic_id] = (today + ONE_DAY, last - ONE_DAY)
        spans += [(clinic_id, None, splits[clinic_id]), (clinic_id, _day_start(last, zone), until)]
    spans = [(c, start, end) for c, start, end in spans if end is None or end > now]
    edges = scan(session, _grouped(spans), now=now, service=service, product_id=product_id)
    counted = _counted(session, inside, now=now, service=service, product_id=product_id)
    zones = dict(clinics)
    # The first time: today's span, else the first counted day with room, else the last span.
    firsts: list[tuple[int, datetime | None, datetime | None]] = []
    for clinic_id, (_, free_days) in counted.items():
        edge = edges.get(clinic_id)
        if not free_days or (edge and clinic_id in splits and edge[1] < splits[clinic_id]):
            continue
        zone = ZoneInfo(zones[clinic_id])
        start = _day_start(free_days[0], zone)
        firsts.append((clinic_id, start, _day_start(free_days[0] + ONE_DAY, zone)))
    first_times = scan(session, _grouped(firsts), now=now, service=service, product_id=product_id)
    result: dict[int, tuple[int, datetime | None]] = {}
    for clinic_id, _ in clinics:
        total, first = edges.get(clinic_id, (0, None))
        total += counted.get(clinic_id, (0, []))[0]
        if clinic_id in first_times:
            first = first_times[clinic_id][1]
        result[clinic_id] = (total, first)
    return result


def _counted(
    session: Session,
    inside: dict[int, tuple[date, date]],
    *,
    now: datetime,
    service: str | None,
    product_id: int | None,
) -> dict[int, tuple[int, list[date]]]:
    """Per clinic: free places over its counted days, and those days with room, in order."""
    if not inside:
        return {}
    first = min(lo for lo, _ in inside.values())
    last = max(hi for _, hi in inside.values())
    free = free_by_day(
        session, inside, first, last, now=now, service=service, product_id=product_id
    )
    counted: dict[int, tuple[int, list[date]]] = {}
    for (clinic_id, day), places in sorted(free.items()):
        lo, hi = inside[clinic_id]
        if lo <= day <= hi and places > 0:
            total, days = counted.get(clinic_id, (0, []))
            counted[clinic_id] = (total + places, [*days, day])
    return counted
