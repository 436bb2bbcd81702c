"""PostgreSQL's search statement, built once: clinics and bounds bound as arrays.

Built per search, one ``(clinic_id, starts_at)`` range per clinic and span cost more Python
than the search itself, and an ``IN (...)`` list let the planner walk ``ix_slot_starts_at``
through every clinic's slots of a day. Here each array row (``unnest``) is joined ``LATERAL``
to its own clinic's slots, an index range of ``uq_slot_clinic_id_starts_at_product_id``, and
to its own clinic's count rows and pending deltas (their ``(clinic_id, day)`` indexes): every
read is one clinic's index range, and only the edge days' slot reads grow with the slots a
clinic has in a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    DateTime,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import Function

from booking.models import Slot, SlotDayCount, SlotDayDelta
from booking.services.slot_counts import online_free

EDGE, FIRST_DAY, COUNTED = 0, 1, 2
INSTANT = DateTime(timezone=True)
# A slot span whose places are summed: kind (EDGE), clinic, from (inclusive), to (exclusive).
SlotSpan = tuple[int, int, datetime, datetime]
# Counted days: clinic, first and last local day (inclusive).
DaySpan = tuple[int, date, date]


def _rows(name: str, **columns: Any) -> Any:
    """``unnest(:name_a, :name_b, ...) AS name(a, b, ...)``: one row per array position."""
    arrays = [cast(bindparam(f"{name}_{key}"), ARRAY(type_)) for key, type_ in columns.items()]
    function: Function[Any] = func.unnest(*arrays)
    named = [column(key, type_) for key, type_ in columns.items()]
    return function.table_valued(*named, name=name).render_derived()


def _vaccine(table: Any, service: bool, product: bool) -> list[ColumnElement[bool]]:
    conditions = [table.service == bindparam("service")] if service else []
    if product:
        conditions.append(table.product_id == bindparam("product_id"))
    return conditions


@cache
def search_statement(service: bool, product: bool) -> CompoundSelect[Any]:
    """(kind, clinic id, day, free, first) rows of a search, bound by ``now``, the filters
    (``service``, ``product_id`` when given) and three sets of arrays: slot spans summed
    (``span_*``), first counted days whose first bookable time is read (``first_*``), and
    counted days (``days_*``)."""
    now = bindparam("now", type_=Slot.starts_at.type)
    free = online_free(now)
    slot_filter = [Slot.is_open.is_(True), free > 0, *_vaccine(Slot, service, product)]

    spans = _rows("span", kind=Integer, clinic_id=Integer, lo=INSTANT, hi=INSTANT)
    # Both lower bounds stay: btree keeps the tighter one, so the range starts at max(lo, now).
    in_span = and_(
        Slot.clinic_id == spans.c.clinic_id,
        Slot.starts_at >= spans.c.lo,
        Slot.starts_at > now,
        Slot.starts_at < spans.c.hi,
    )
    summed = (
        select(func.sum(free).label("free"), func.min(Slot.starts_at).label("first"))
        .where(in_span, *slot_filter)
        .lateral("summed")
    )
    edges = (
        select(spans.c.kind, spans.c.clinic_id, cast(null(), Date), summed.c.free, summed.c.first)
        .select_from(spans.join(summed, true()))
        .where(summed.c.first.is_not(None))
    )

    firsts = _rows("first", clinic_id=Integer, lo=INSTANT, hi=INSTANT)
    earliest = (
        select(Slot.starts_at.label("first"))
        .where(
            Slot.clinic_id == firsts.c.clinic_id,
            Slot.starts_at >= firsts.c.lo,
            Slot.starts_at > now,
            Slot.starts_at < firsts.c.hi,
            *slot_filter,
        )
        .order_by(Slot.starts_at)
        .limit(1)
        .lateral("earliest")
    )
    first_times = select(
        literal(FIRST_DAY), firsts.c.clinic_id, cast(null(), Date), null(), earliest.c.first
    ).select_from(firsts.join(earliest, true()))

    days = _rows("days", clinic_id=Integer, lo=Date, hi=Date)
    parts = [
        select(table.day, table.release_at, table.free_held, table.free_released)
        .where(
            table.clinic_id == days.c.clinic_id,
            table.day >= days.c.lo,
            table.day <= days.c.hi,
            *_vaccine(table, service, product),
        )
        .correlate(days)  # two levels down: the union's branches do not correlate by themselves
        for table in (SlotDayCount, SlotDayDelta)
    ]
    rows = union_all(*parts).subquery("day_rows")
    # A row holds only slots of one phone release time (or none that matters): exact at `now`.
    day_free = case((rows.c.release_at > now, rows.c.free_held), else_=rows.c.free_released)
    # Summed inside the LATERAL: each clinic's rows are index ranges of its own (a join of all
    # clinics lets the planner hash the whole count table), and one row per clinic comes back:
    # its free places and its first day with room.
    per_day = select(rows.c.day, func.sum(day_free).label("free")).group_by(rows.c.day).subquery()
    per_clinic = select(
        func.sum(per_day.c.free).label("free"),
        func.min(per_day.c.day).filter(per_day.c.free > 0).label("day"),
    ).lateral("per_clinic")
    counted = (
        select(
            literal(COUNTED),
            days.c.clinic_id,
            per_clinic.c.day,
            per_clinic.c.free,
            cast(null(), Slot.starts_at.type),
        )
        .select_from(days.join(per_clinic, true()))
        .where(per_clinic.c.day.is_not(None))
    )
    return union_all(edges, first_times, counted)


def search_rows(
    session: Session,
    spans: Sequence[SlotSpan],
    firsts: Sequence[tuple[int, datetime, datetime]],
    days: Sequence[DaySpan],
    *,
    now: datetime,
    service: str | None,
    product_id: int | None,
) -> list[Any]:
    """Run the search statement: (kind, clinic id, day, free, first) per slot span with
    room, per first counted day with room, and per clinic with room on its counted days (its
    first such day and their free places)."""
    params: dict[str, Any] = {"now": now, "service": service, "product_id": product_id}
    for name, keys, values in (
        ("span", ("kind", "clinic_id", "lo", "hi"), spans),
        ("first", ("clinic_id", "lo", "hi"), firsts),
        ("days", ("clinic_id", "lo", "hi"), days),
    ):
        columns = list(zip(*values, strict=True)) if values else [()] * len(keys)
        for key, column_values in zip(keys, columns, strict=True):
            params[f"{name}_{key}"] = "{" + ",".join(map(_element, column_values)) + "}"
    statement = search_statement(bool(service), product_id is not None)
    return list(session.execute(statement, params))


def _element(value: int | date) -> str:
    # Each array goes as one array literal the statement casts: psycopg dumps a list element by
    # element in Python, a measurable share of a search. Ints and ISO dates and instants need
    # no quoting in a literal, and nothing here comes from a user.
    return value.isoformat() if isinstance(value, date) else str(value)
