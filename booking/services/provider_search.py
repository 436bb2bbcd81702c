"""Other providers' free appointments near a place, for the resident's and the agent's search.

Reads only the last accepted copy of each active feed (booking.models.providers), and only a
copy fetched within ``max_age``: an older one is not shown at all, since its free times have
most likely gone and a resident sent to a full slot loses more than one who never saw it. The
filters are the search's own: radius, day, service and product; a provider that does not say
which vaccine a slot is for is kept under any filter and its slot says so. A booking link is
only given out when it is an https address, with ``source`` and a fresh ``booking-referral``
appended as the SMART Scheduling Links spec describes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from booking.models import ProviderFeed, ProviderLocation, ProviderSlot
from booking.services.geo import bounding_box, distance_miles
from booking.services.inventory import SERVICES, local_day_bounds
from booking.services.products import CATALOGUE, describe
from booking.services.text import N_

# Provider locations carry no time zone: the state's is theirs.
PROVIDER_TIMEZONE = "America/New_York"
REFERRAL_SOURCE = "fairslot"
TIMES_SHOWN = 3  # the soonest free times listed under each location
VACCINE_NOT_STATED = N_("Vaccine not stated")
_PRODUCT_OF_CVX = {p.cvx_code: p for p in CATALOGUE}


class Distance(Protocol):
    """Anything a search lists with its distance (our clinics' results and providers')."""

    @property
    def distance_miles(self) -> float:
        """Miles from the searched place."""
        ...


@dataclass(frozen=True)
class ProviderTime:
    """One free time at a provider's location, ready to show."""

    starts_at: datetime
    free: int
    vaccine: str  # a Msg: translated as it is shown
    booking_link: str | None  # https only, with source and booking-referral appended
    booking_phone: str | None  # the slot's booking phone, else the location's
    booking_tel: str | None  # the phone as a tel: link, when it has digits to dial


@dataclass(frozen=True)
class ProviderResult:
    """A provider's location near the searched place, with its soonest free times."""

    provider: str
    location: ProviderLocation
    distance_miles: float
    available: int
    next_available: datetime
    times: list[ProviderTime]
    fetched_at: datetime
    age_minutes: int

    @property
    def timezone(self) -> str:
        """The zone its times are shown in."""
        return PROVIDER_TIMEZONE


def referral_link(url: str | None, referral: str | None = None) -> str | None:
    """The deep link with ``source`` and ``booking-referral`` added, or None if not https.

    Parsed and rebuilt, not concatenated: the link may already carry a query string.
    """
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("source", "booking-referral")
    ]
    query += [("source", REFERRAL_SOURCE), ("booking-referral", referral or uuid.uuid4().hex)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def tel_link(phone: str | None) -> str | None:
    """A ``tel:`` URI of a phone's digits (and a leading +), or None: nothing else of it is kept."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())[:20]
    if len(digits) < 3:
        return None
    return f"tel:{'+' if phone.lstrip().startswith('+') else ''}{digits}"


def vaccine_words(service: str | None, cvx_code: str | None) -> str:
    """What a provider's slot is for: the product, else the vaccine, else that it is not said."""
    product = _PRODUCT_OF_CVX.get(cvx_code or "")
    if product is not None:
        return describe(product)
    if service in SERVICES:
        return SERVICES[service]
    return VACCINE_NOT_STATED


def _filters(
    now: datetime,
    day: date | None,
    service: str | None,
    product_cvx: str | None,
    horizon_days: int,
) -> list[ColumnElement[bool]]:
    conditions = [ProviderSlot.starts_at > now, ProviderSlot.capacity > 0]
    if day is None:
        conditions.append(ProviderSlot.starts_at < now + timedelta(days=horizon_days))
    else:
        start, end = local_day_bounds(day, PROVIDER_TIMEZONE)
        conditions += [ProviderSlot.starts_at >= start, ProviderSlot.starts_at < end]
    if service is not None:
        # A slot whose vaccine is not stated may be the one wanted: it stays, marked.
        conditions.append(or_(ProviderSlot.service == service, ProviderSlot.service.is_(None)))
    if product_cvx is not None:
        conditions.append(
            or_(ProviderSlot.cvx_code == product_cvx, ProviderSlot.cvx_code.is_(None))
        )
    return conditions


def providers_near(
    session: Session,
    *,
    latitude: float,
    longitude: float,
    radius_miles: float,
    now: datetime,
    max_age: timedelta,
    horizon_days: int,
    day: date | None = None,
    service: str | None = None,
    product_cvx: str | None = None,
    limit: int = 50,
) -> list[ProviderResult]:
    """Fresh providers' locations within the radius with free times that match, nearest first."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(latitude, longitude, radius_miles)
    rows = session.execute(
        select(ProviderLocation, ProviderFeed.name, ProviderFeed.fetched_at)
        .join(ProviderFeed, ProviderFeed.id == ProviderLocation.feed_id)
        .where(
            ProviderFeed.active.is_(True),
            ProviderFeed.fetched_at >= now - max_age,
            ProviderLocation.latitude.between(min_lat, max_lat),
            ProviderLocation.longitude.between(min_lon, max_lon),
        )
    ).all()
    near: dict[int, tuple[ProviderLocation, str, datetime, float]] = {}
    for location, provider, fetched_at in rows:
        assert location.latitude is not None and location.longitude is not None
        miles = distance_miles(latitude, longitude, location.latitude, location.longitude)
        if miles <= radius_miles:
            near[location.id] = (location, provider, fetched_at or now, miles)
    if not near:
        return []
    conditions = [
        ProviderSlot.location_id.in_(list(near)),
        *_filters(now, day, service, product_cvx, horizon_days),
    ]
    totals = {
        location_id: int(total)
        for location_id, total in session.execute(
            select(ProviderSlot.location_id, func.sum(ProviderSlot.capacity))
            .where(*conditions)
            .group_by(ProviderSlot.location_id)
        )
    }
    phones = {location_id: row[0].phone for location_id, row in near.items()}
    times = _soonest(session, conditions, phones)
    results = []
    for location_id, total in totals.items():
        location, provider, fetched_at, miles = near[location_id]
        results.append(
            ProviderResult(
                provider=provider,
                location=location,
                distance_miles=round(miles, 1),
                available=total,
                next_available=times[location_id][0].starts_at,
                times=times[location_id],
                fetched_at=fetched_at,
                age_minutes=max(0, int((now - fetched_at).total_seconds() // 60)),
            )
        )
    results.sort(key=lambda r: (r.distance_miles, r.location.name, r.location.id))
    return results[:limit]


def _soonest(
    session: Session, conditions: list[ColumnElement[bool]], phones: dict[int, str | None]
) -> dict[int, list[ProviderTime]]:
    """The first few matching times of each location (a window, not every slot of a site)."""
    rank = (
        func.row_number()
        .over(
            partition_by=ProviderSlot.location_id,
            order_by=(ProviderSlot.starts_at, ProviderSlot.id),
        )
        .label("rank")
    )
    ranked = select(ProviderSlot.id, rank).where(*conditions).subquery()
    slots = session.scalars(
        select(ProviderSlot)
        .join(ranked, and_(ranked.c.id == ProviderSlot.id, ranked.c.rank <= TIMES_SHOWN))
        .order_by(ProviderSlot.location_id, ProviderSlot.starts_at, ProviderSlot.id)
    )
    found: dict[int, list[ProviderTime]] = {}
    for slot in slots:
        phone = slot.booking_phone or phones.get(slot.location_id)
        found.setdefault(slot.location_id, []).append(
            ProviderTime(
                starts_at=slot.starts_at,
                free=slot.capacity,
                vaccine=vaccine_words(slot.service, slot.cvx_code),
                booking_link=referral_link(slot.booking_link),
                booking_phone=phone,
                booking_tel=tel_link(phone),
            )
        )
    return found


def by_distance(ours: Sequence[Distance], theirs: Sequence[ProviderResult]) -> list[Distance]:
    """Our clinics and providers' locations in one list, nearest first (ours first on a tie)."""
    tagged = [(r.distance_miles, 0, n, r) for n, r in enumerate(ours)]
    tagged += [(r.distance_miles, 1, n, r) for n, r in enumerate(theirs)]
    return [row[3] for row in sorted(tagged, key=lambda row: row[:3])]
