"""Finding clinics and free slots: reads only, cheap enough for a flash crowd."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import Clinic, Slot, VaccineProduct
from booking.services.day_counts import as_utc, bookable, vaccine_filter
from booking.services.day_search import clinics_free
from booking.services.errors import NotFound
from booking.services.geo import bounding_box, distance_miles
from booking.services.slot_counts import online_free
from booking.services.text import N_

SERVICES: dict[str, str] = {
    "covid19": N_("COVID-19 vaccine"),
    "flu": N_("Flu vaccine"),
    "rsv": N_("RSV vaccine"),
}

# The vaccine filter's "any product of this service", whole sentences for each language.
ANY_OF_SERVICE: dict[str, str] = {
    "covid19": N_("Any COVID-19 vaccine"),
    "flu": N_("Any flu vaccine"),
    "rsv": N_("Any RSV vaccine"),
}


@dataclass(frozen=True)
class ClinicResult:
    """A clinic near the searched place, with what it still has free."""

    clinic: Clinic
    distance_miles: float
    available_slots: int
    next_available: datetime | None


def local_day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """Return the UTC instants where a calendar day begins and ends in a time zone."""
    tz = ZoneInfo(tz_name)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


def search_clinics(
    session: Session,
    *,
    latitude: float,
    longitude: float,
    radius_miles: float,
    now: datetime,
    day: date | None = None,
    service: str | None = None,
    product_id: int | None = None,
    horizon_days: int = 14,
    limit: int = 50,
) -> list[ClinicResult]:
    """List active clinics within the radius, nearest first, with free places and next time."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(latitude, longitude, radius_miles)
    candidates = session.scalars(
        select(Clinic).where(
            Clinic.active.is_(True),
            Clinic.latitude.between(min_lat, max_lat),
            Clinic.longitude.between(min_lon, max_lon),
        )
    ).all()
    near: list[tuple[Clinic, float]] = []
    for clinic in candidates:
        miles = distance_miles(latitude, longitude, clinic.latitude, clinic.longitude)
        if miles <= radius_miles and (service is None or service in (clinic.services or [])):
            near.append((clinic, miles))
    near.sort(key=lambda pair: (pair[1], pair[0].name))
    if product_id is not None:
        near = _offering(session, near, product_id, now)
    near = near[:limit]
    if not near:
        return []

    stats = clinics_free(
        session,
        [(clinic.id, clinic.timezone) for clinic, _ in near],
        now=now,
        day=day,
        horizon_days=horizon_days,
        service=service,
        product_id=product_id,
    )
    return [ClinicResult(clinic, round(miles, 1), *stats[clinic.id]) for clinic, miles in near]


def _offering(
    session: Session, near: list[tuple[Clinic, float]], product_id: int, now: datetime
) -> list[tuple[Clinic, float]]:
    """The clinics that run the product at all from now on (full or not): clinics declare
    services, not products, so their slots say what is in the fridge."""
    ids = set(
        session.scalars(
            select(Slot.clinic_id)
            .where(
                Slot.clinic_id.in_([c.id for c, _ in near]),
                Slot.product_id == product_id,
                Slot.starts_at > now,
            )
            .distinct()
        )
    )
    return [(clinic, miles) for clinic, miles in near if clinic.id in ids]


def get_clinic(session: Session, clinic_id: int) -> Clinic:
    """Return an active clinic or raise NotFound."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None or not clinic.active:
        raise NotFound(N_("No clinic with that id."))
    return clinic


def clinic_days(
    session: Session,
    clinic: Clinic,
    *,
    now: datetime,
    days: int,
    service: str | None = None,
    product_id: int | None = None,
) -> list[tuple[date, int | None]]:
    """Return each of the next ``days`` local dates with its free places (None: no times)."""
    tz = ZoneInfo(clinic.timezone)
    today = now.astimezone(tz).date()
    start, _ = local_day_bounds(today, clinic.timezone)
    _, end = local_day_bounds(today + timedelta(days=days - 1), clinic.timezone)
    # Every open, future time (full ones too), so a full day reads "Full", not "No times".
    conditions = [Slot.clinic_id == clinic.id, Slot.is_open.is_(True), Slot.starts_at > now]
    conditions += [Slot.starts_at < end, *vaccine_filter(service, product_id)]
    rows = session.execute(
        select(Slot.starts_at, online_free(now)).where(*conditions, Slot.starts_at >= start)
    ).all()
    counts: dict[date, int | None] = {today + timedelta(days=i): None for i in range(days)}
    for starts_at, free in rows:
        local = as_utc(starts_at).astimezone(tz).date()
        if local in counts:
            counts[local] = (counts[local] or 0) + max(0, int(free))
    return sorted(counts.items())


def slots_for_day(
    session: Session,
    clinic: Clinic,
    day: date,
    *,
    now: datetime,
    service: str | None = None,
    product_id: int | None = None,
) -> list[Slot]:
    """Return the clinic's open slots on a local date that have not started, earliest first."""
    start, end = local_day_bounds(day, clinic.timezone)
    conditions = [
        Slot.clinic_id == clinic.id,
        Slot.is_open.is_(True),
        Slot.starts_at >= max(start, now),
        Slot.starts_at < end,
        *vaccine_filter(service, product_id),
    ]
    return list(session.scalars(select(Slot).where(*conditions).order_by(Slot.starts_at, Slot.id)))


def clinic_products(session: Session, clinic: Clinic, *, now: datetime) -> list[VaccineProduct]:
    """The products of the clinic's open slots from now on (what its vaccine filter offers)."""
    ids = select(Slot.product_id).where(
        Slot.clinic_id == clinic.id, Slot.is_open.is_(True), Slot.starts_at > now
    )
    return list(
        session.scalars(
            select(VaccineProduct)
            .where(VaccineProduct.id.in_(ids))
            .order_by(VaccineProduct.service, VaccineProduct.name)
        )
    )


def get_slot(session: Session, slot_id: int) -> Slot:
    """Return a slot or raise NotFound."""
    slot = session.get(Slot, slot_id)
    if slot is None:
        raise NotFound(N_("No slot with that id."))
    return slot


def remaining_appointments(session: Session, *, now: datetime, horizon_days: int) -> int:
    """Free places in open, future slots within the booking horizon (for the waiting room)."""
    total = session.scalar(
        select(func.coalesce(func.sum(online_free(now)), 0)).where(
            *bookable(now), Slot.starts_at < now + timedelta(days=horizon_days)
        )
    )
    return int(total or 0)
