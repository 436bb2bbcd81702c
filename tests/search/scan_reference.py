"""The slot scan search answered with before the per clinic-day counts: the reference the
counts must agree with, for every filter, day and instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import Slot
from booking.services.inventory import ClinicResult, local_day_bounds
from booking.services.slot_counts import online_free


def scan_search(
    session: Session,
    near: list[ClinicResult],
    *,
    now: datetime,
    day: date | None,
    service: str | None,
    product_id: int | None,
    horizon_days: int = 14,
) -> list[tuple[int, int, datetime | None]]:
    """(clinic id, free places, first time) for the clinics of a search, by summing slots."""
    if not near:
        return []
    conditions = [
        Slot.clinic_id.in_([r.clinic.id for r in near]),
        Slot.is_open.is_(True),
        Slot.starts_at > now,
        online_free(now) > 0,
    ]
    if service:
        conditions.append(Slot.service == service)
    if product_id is not None:
        conditions.append(Slot.product_id == product_id)
    if day is None:
        conditions.append(Slot.starts_at < now + timedelta(days=horizon_days))
    else:
        start, end = local_day_bounds(day, near[0].clinic.timezone)
        conditions += [Slot.starts_at >= start, Slot.starts_at < end]
    rows = session.execute(
        select(Slot.clinic_id, func.sum(online_free(now)), func.min(Slot.starts_at))
        .where(*conditions)
        .group_by(Slot.clinic_id)
    ).all()
    stats = {
        clinic_id: (int(total or 0), first if first.tzinfo else first.replace(tzinfo=UTC))
        for clinic_id, total, first in rows
    }
    return [(r.clinic.id, *stats.get(r.clinic.id, (0, None))) for r in near]
