"""Search's free places and first times per clinic, from the per clinic-day counts.

The counts (booking/services/day_counts.py) answer whole local days. The days they cannot
answer alone are read from their slots, a short index range per clinic: today, where
``starts_at > now`` cuts the day; the horizon's last day, cut by ``now + horizon``; a searched
day in another clinic's time zone (the slot scan used the first clinic's). The first time is
one slot read for the first counted day with room; the first counted day (tomorrow, mostly)
is read beside the counts in the same statement, so the usual search is two statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Select,
    and_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from booking.models import Slot, UTCDateTime
from booking.services.day_counts import as_date, as_utc, counts_select, vaccine_filter
from booking.services.search_statements import COUNTED, EDGE, FIRST_DAY, search_rows
from booking.services.slot_counts import online_free

ONE_DAY = timedelta(days=1)
SLOT = Slot.__table__.c  # Core columns: cheaper to build many conditions from
Span = tuple[tuple[int, ...], datetime | None, datetime | None]


def _scan_select(
    kind: int, spans: list[Span], *, now: datetime, service: str | None, product_id: int | None
) -> Select[int, int, date, int, datetime]:
    # SQLite's statement (PostgreSQL binds arrays instead: search_statements.py), one
    # (clinic_id, starts_at) range per clinic, each an index range of the clinic's slots.
    ranges = []
    for clinic_ids, start, end in spans:
        for clinic_id in clinic_ids:
            bounds: list[ColumnElement[bool]] = [SLOT.clinic_id == clinic_id]
            # Only slots that have not begun (the one ``starts_at > now`` is in the ranges,
            # where it bounds the index range, not beside them as a second index to AND).
            if start is None or start <= now:
                bounds.append(SLOT.starts_at > now)
            else:
                bounds.append(SLOT.starts_at >= start)
            if end is not None:
                bounds.append(SLOT.starts_at < end)
            ranges.append(and_(*bounds))
    return (
        select(
            literal(kind).label("kind"),
            Slot.clinic_id,
            cast(null(), Date).label("day"),
            func.sum(online_free(now)).label("free"),
            func.min(Slot.starts_at).label("first"),
        )
        .where(or_(*ranges), Slot.is_open.is_(True), online_free(now) > 0)
        .where(*vaccine_filter(service, product_id))
        .group_by(Slot.clinic_id)
    )


def _grouped(spans: Sequence[tuple[int, datetime | None, datetime | None]]) -> list[Span]:
    """Clinics with the same bounds in one span, so a search has a few, not one per clinic."""
    groups: dict[tuple[datetime | None, datetime | None], list[int]] = {}
    for clinic_id, start, end in spans:
        groups.setdefault((start, end), []).append(clinic_id)
    return [(tuple(ids), start, end) for (start, end), ids in groups.items()]


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


class _Plan:
    """What a search reads: slot spans per clinic, and the days the counts answer."""

    def __init__(
        self, clinics: list[tuple[int, str]], now: datetime, day: date | None, horizon_days: int
    ) -> None:
        self.spans: list[tuple[int, datetime | None, datetime | None]] = []
        self.inside: dict[int, tuple[date, date]] = {}  # clinic: first, last counted day
        self.splits: dict[int, datetime] = {}  # clinic: where its today span ends
        self.zones = {clinic_id: ZoneInfo(name) for clinic_id, name in clinics}
        first_name = clinics[0][1]
        for clinic_id, name in clinics:
            zone = self.zones[clinic_id]
            today = now.astimezone(zone).date()
            if day is not None:
                if name == first_name and day > today:
                    self.inside[clinic_id] = (day, day)
                else:
                    first_zone = ZoneInfo(first_name)
                    start, end = _day_start(day, first_zone), _day_start(day + ONE_DAY, first_zone)
                    self.spans.append((clinic_id, start, end))
                continue
            until = now + timedelta(days=horizon_days)
            last = until.astimezone(zone).date()
            self.splits[clinic_id] = _day_start(today + ONE_DAY, zone)
            if last <= today + ONE_DAY:
                self.spans.append((clinic_id, now, until))
                continue
            self.inside[clinic_id] = (today + ONE_DAY, last - ONE_DAY)
            self.spans += [
                (clinic_id, now, self.splits[clinic_id]),
                (clinic_id, _day_start(last, zone), until),
            ]
        self.spans = [(c, start, end) for c, start, end in self.spans if end is None or end > now]

    def day_span(self, clinic_id: int, day: date) -> tuple[int, datetime, datetime]:
        """The instants of a clinic's local day."""
        zone = self.zones[clinic_id]
        return clinic_id, _day_start(day, zone), _day_start(day + ONE_DAY, zone)


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
    plan = _Plan(clinics, now, day, horizon_days)
    filters: dict[str, Any] = {"now": now, "service": service, "product_id": product_id}
    if not plan.spans and not plan.inside:  # a searched day that is over: nothing to read
        return {clinic_id: (0, None) for clinic_id, _ in clinics}
    firsts = [plan.day_span(c, lo) for c, (lo, _) in plan.inside.items()]
    if _postgresql(session):
        spans = [(EDGE, c, start, end) for c, start, end in _bounded(plan.spans, now)]
        days = [(c, lo, hi) for c, (lo, hi) in plan.inside.items()]
        rows = search_rows(session, spans, firsts, days, **filters)
    else:
        rows = list(session.execute(_sqlite_select(plan, firsts, filters)))
    edges: dict[int, tuple[int, datetime]] = {}
    first_day: dict[int, datetime] = {}
    counted: dict[int, tuple[int, date]] = {}  # clinic: its counted free places, first day
    for kind, clinic_id, row_day, free, first_at in rows:
        if kind == EDGE:
            total, first = edges.get(clinic_id, (0, as_utc(first_at)))
            edges[clinic_id] = (total + int(free or 0), min(first, as_utc(first_at)))
        elif kind == FIRST_DAY:
            first_day[clinic_id] = as_utc(first_at)
        elif int(free or 0) > 0:  # per day (SQLite), or per clinic: first day with room (PG)
            lo, hi = plan.inside[clinic_id]
            if lo <= (with_room := as_date(row_day)) <= hi:
                total, earliest = counted.get(clinic_id, (0, with_room))
                counted[clinic_id] = (total + int(free), min(earliest, with_room))
    return _answer(session, plan, clinics, edges, first_day, counted, filters)


def _answer(
    session: Session,
    plan: _Plan,
    clinics: list[tuple[int, str]],
    edges: dict[int, tuple[int, datetime]],
    first_day: dict[int, datetime],
    counted: dict[int, tuple[int, date]],
    filters: dict[str, Any],
) -> dict[int, tuple[int, datetime | None]]:
    """Totals and first times: today's span first, then the first counted day with room (its
    time read beside the counts when that is the first counted day), then the last span."""
    result: dict[int, tuple[int, datetime | None]] = {}
    later: list[tuple[int, datetime | None, datetime | None]] = []
    for clinic_id, _ in clinics:
        total, first = edges.get(clinic_id, (0, None))
        if clinic_id in counted:
            total += counted[clinic_id][0]
        today_first = first is not None and (
            clinic_id not in plan.splits or first < plan.splits[clinic_id]
        )
        if clinic_id in counted and not today_first:
            with_room = counted[clinic_id][1]
            if with_room == plan.inside[clinic_id][0] and clinic_id in first_day:
                first = first_day[clinic_id]
            else:
                later.append(plan.day_span(clinic_id, with_room))
        result[clinic_id] = (total, first)
    if later:  # the first counted days were full: one more read, for those clinics
        if _postgresql(session):
            rows = search_rows(session, [], _bounded(later, filters["now"]), [], **filters)
        else:
            rows = list(session.execute(_scan_select(FIRST_DAY, _grouped(later), **filters)))
        for _, clinic_id, _, _, first_at in rows:
            result[clinic_id] = (result[clinic_id][0], as_utc(first_at))
    return result


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _bounded(
    spans: Sequence[tuple[int, datetime | None, datetime | None]], now: datetime
) -> list[tuple[int, datetime, datetime]]:
    """Spans with both ends (every span the plan makes has them; an open start is ``now``)."""
    bounded = []
    for clinic_id, start, end in spans:
        assert end is not None
        bounded.append((clinic_id, start or now, end))
    return bounded


def _sqlite_select(
    plan: _Plan, firsts: list[tuple[int, datetime, datetime]], filters: dict[str, Any]
) -> CompoundSelect[Any]:
    """SQLite's statement (the embedded default, small data): one branch per span group."""
    parts = [_scan_select(EDGE, [span], **filters) for span in _grouped(plan.spans)]
    if plan.inside:
        parts.append(_scan_select(FIRST_DAY, _grouped(firsts), **filters))
        first = min(lo for lo, _ in plan.inside.values())
        last = max(hi for _, hi in plan.inside.values())
        counted = counts_select(list(plan.inside), first, last, **filters)
        per_day = counted.subquery()
        parts.append(select(literal(COUNTED), *per_day.c, cast(null(), UTCDateTime())))
    return union_all(*parts)
