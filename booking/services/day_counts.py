"""Search's free places from the per clinic-day counts (migration 0017), and folding them.

The slot triggers append a signed delta for every change, in the writer's own transaction, so
a clinic-day's folded row plus its not-yet-folded deltas is exact at any commit. Reading both in
one statement sees one snapshot: a fold that committed moved deltas into the row, one that did
not left them where they were. Days the counts cannot answer alone (today, where ``starts_at >
now`` cuts the day; the horizon's last day, cut by ``now + horizon``; a searched day in another
clinic's time zone) are read from their slots, which is a short index range per clinic.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select, text, union_all
from sqlalchemy.orm import Session

from booking.models import Slot, SlotDayCount, SlotDayDelta
from booking.services.slot_counts import online_free

KEY = "clinic_id, day, service, product_id, release_at"
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


def counts_select(
    clinic_ids: list[int],
    first: date,
    last: date,
    *,
    now: datetime,
    service: str | None,
    product_id: int | None,
) -> Select[Any]:
    """(clinic id, day, online-free places) of the counts' rows and pending deltas, per day."""
    parts = []
    for table in (SlotDayCount, SlotDayDelta):
        conditions: list[ColumnElement[bool]] = [
            table.clinic_id.in_(clinic_ids),
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
    return select(rows.c.clinic_id, rows.c.day, func.sum(free)).group_by(
        rows.c.clinic_id, rows.c.day
    )


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
    query = counts_select(ids, first, last, now=now, service=service, product_id=product_id)
    result = session.execute(query)
    return {(clinic_id, as_date(day)): int(total or 0) for clinic_id, day, total in result}


def as_date(value: date | str) -> date:
    """A day from a union's column (SQLite's text on some versions)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def bookable(now: datetime) -> list[ColumnElement[bool]]:
    """What residents can book online: the phone set-aside is not theirs until its cutoff."""
    return [Slot.is_open.is_(True), Slot.starts_at > now, online_free(now) > 0]


def as_utc(value: datetime | str) -> datetime:
    """An aggregate's datetime as aware UTC (min() bypasses the column type; SQLite is naive)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
