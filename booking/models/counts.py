"""Per clinic, local day, service and product: how many places are free, kept by triggers.

Every write to ``slot`` (any service, raw SQL, the bench's generator) fires a trigger that
appends a signed delta row to ``slot_day_delta``: appending never waits on another writer's
row, so a crowd holding places at one clinic-day does not queue on a counter. Housekeeping
folds the deltas into ``slot_day_count``; search reads both (see booking/services/day_counts.py).

``release_at`` is the slots' ``phone_release_at`` when the phone set-aside changes what is
free (``free_held`` before it, ``free_released`` after), else the epoch, so a row's free count
at any instant is exact: ``free_held if release_at > now else free_released``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import Base


class SlotDayCount(Base):
    """Folded totals of the open slots' free places of one clinic-day, service and product."""

    __tablename__ = "slot_day_count"

    clinic_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_at: Mapped[datetime] = mapped_column(primary_key=True)
    slots: Mapped[int] = mapped_column(Integer)
    free_held: Mapped[int] = mapped_column(Integer)
    free_released: Mapped[int] = mapped_column(Integer)


class SlotDayDelta(Base):
    """One signed change to a ``slot_day_count`` row, appended by the slot triggers."""

    __tablename__ = "slot_day_delta"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    service: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[int] = mapped_column(Integer)
    release_at: Mapped[datetime] = mapped_column()
    slots: Mapped[int] = mapped_column(Integer)
    free_held: Mapped[int] = mapped_column(Integer)
    free_released: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_slot_day_delta_clinic_id_day", "clinic_id", "day"),)


def local_day_text(starts_at: str | None, timezone: str | None) -> str | None:
    """SQLite's ``fairslot_local_day``: the local date (ISO) of a stored UTC instant in a zone.

    SQLite has no time zones; the slot triggers call this (registered on every connection by
    booking.db) where PostgreSQL says ``(starts_at AT TIME ZONE timezone)::date``.
    """
    if starts_at is None or timezone is None:
        return None
    moment = datetime.fromisoformat(starts_at).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()
