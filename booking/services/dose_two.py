"""How far ahead a clinic must schedule for dose 2, and how many dose-2 places are booked.

A resident may book dose 1 up to FAIRSLOT_BOOKING_DAYS ahead, and its dose 2 is booked with it,
up to the product's latest interval after dose 1. So a clinic running a two-dose product needs
slots of that product until today + booking days + interval_max_days, beyond the horizon that
residents see; otherwise late dose-1 bookings find no place for dose 2 and are refused. The
schedule console shows this date per product, warns when the slots end before it, and counts
the dose-2 places already booked per week (what a manager staffs for).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import Clinic, Reservation, ReservationStatus, Slot, VaccineProduct
from booking.services.inventory import clinic_products


@dataclass(frozen=True)
class DoseTwoProduct:
    """One two-dose product the clinic runs: the date its slots must reach, and where they end."""

    product: VaccineProduct
    needed_until: date
    scheduled_until: date | None  # the last day with an open slot of it; None: none ahead
    weeks: list[tuple[date, int]]  # (Monday of the week, dose-2 places booked that week)

    @property
    def short(self) -> bool:
        """Whether the slots end before the last day a dose 2 may be booked on."""
        return self.scheduled_until is None or self.scheduled_until < self.needed_until

    @property
    def booked(self) -> int:
        """Dose-2 places booked from today on."""
        return sum(n for _, n in self.weeks)


@dataclass(frozen=True)
class DoseTwoOutlook:
    """The clinic's dose-2 needs: the furthest date over its two-dose products, and each one."""

    needed_until: date | None
    products: list[DoseTwoProduct]
    booking_days: int
    longest_interval: int | None  # the latest dose-2 day after dose 1, over those products


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _last_day(session: Session, clinic: Clinic, product_id: int, now: datetime) -> date | None:
    last = session.scalar(
        select(func.max(Slot.starts_at)).where(
            Slot.clinic_id == clinic.id,
            Slot.product_id == product_id,
            Slot.is_open.is_(True),
            Slot.starts_at > now,
        )
    )
    return None if last is None else _local_day(last, ZoneInfo(clinic.timezone))


def _booked_weeks(
    session: Session, clinic: Clinic, product_id: int, now: datetime
) -> list[tuple[date, int]]:
    starts = session.scalars(
        select(Slot.starts_at)
        .join(Reservation, Reservation.slot_id == Slot.id)
        .where(
            Slot.clinic_id == clinic.id,
            Slot.product_id == product_id,
            Slot.starts_at > now,
            Reservation.dose_number == 2,
            Reservation.status == ReservationStatus.CONFIRMED.value,
        )
    )
    zone = ZoneInfo(clinic.timezone)
    weeks: Counter[date] = Counter()
    for start in starts:
        day = _local_day(start, zone)
        weeks[day - timedelta(days=day.weekday())] += 1
    return sorted(weeks.items())


def outlook(
    session: Session, clinic: Clinic, *, now: datetime, booking_days: int
) -> DoseTwoOutlook:
    """The dose-2 outlook of the active two-dose products the clinic has slots of from now on."""
    today = _local_day(now, ZoneInfo(clinic.timezone))
    rows = []
    for product in clinic_products(session, clinic, now=now):
        # A retired product gets no new slots (the schedule form refuses it): nothing to act on.
        if not product.active or product.doses != 2 or product.interval_max_days is None:
            continue
        rows.append(
            DoseTwoProduct(
                product,
                needed_until=today + timedelta(days=booking_days + product.interval_max_days),
                scheduled_until=_last_day(session, clinic, product.id, now),
                weeks=_booked_weeks(session, clinic, product.id, now),
            )
        )
    needed = max((row.needed_until for row in rows), default=None)
    longest = max((row.product.interval_max_days or 0 for row in rows), default=None)
    return DoseTwoOutlook(needed, rows, booking_days, longest)
