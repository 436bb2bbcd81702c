"""The draw at scale: who may be drawn, filtered by the database; the lottery order as integers;
a walk down it, reading places a chunk at a time, until every released place is taken.

At a million preregistrations the pool cannot be rows in memory with a distance to every
release. The database filters who may be drawn (waiting, not booked, no live invitation, a
product some release offers, inside a released clinic's bounding box for their travel distance);
each of them becomes one integer that sorts as ``invitations.draw`` sorts (priority rank, then
the keyed hash of the id under the seed, then the id). The lottery order is walked a chunk at a
time, reading that chunk's places and computing exact distances, until every place is taken.
The round keeps the part of the pool the walk reached: everyone after it could not have been
chosen whatever their places, so ``draw`` on that part chooses the same people again.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from booking.models import (
    BOOKED_STATUSES,
    Invitation,
    Preregistration,
    PreregistrationStatus,
    Reservation,
)
from booking.models.preregistrations import MAX_TRAVEL_MILES
from booking.services.geo import EARTH_RADIUS_MILES, distance_miles
from booking.services.invitations import SENT, live_invitations, releases_of

T = TypeVar("T")
CHUNK = 2000  # people of the lottery order whose places are read at a time
ID_BITS = 63
HASH_BITS = 256
# Degrees of latitude per mile, with a margin so rounding never shuts out someone in reach.
DEG_PER_MILE = math.degrees(1 / EARTH_RADIUS_MILES) * 1.01
# Past this many released clinics, one box around them all filters instead of one box each.
MAX_BOXES = 200


@dataclass
class _Clinic:
    """A released clinic as the walk reads it: where it is, and its days with their products."""

    id: int
    latitude: float
    longitude: float
    days: list[tuple[str, set[int | None]]] = field(default_factory=list)


@dataclass
class Drawn:
    """What a draw chose, and what the round keeps of it."""

    places: dict[str, int]
    pool: list[Any]
    chosen: list[tuple[int, str]]
    eligible: int
    # Each release key's clinic, day and last released time (no invitation outlives it).
    targets: dict[str, tuple[int, date, datetime]]


def sort_key(seed: bytes, rank: int, prereg_id: int) -> int:
    """One integer ordered as ``draw`` orders people: rank, then ``lottery_key``, then id."""
    mac = int.from_bytes(hmac.digest(seed, str(prereg_id).encode(), hashlib.sha256), "big")
    return (((rank << HASH_BITS) | mac) << ID_BITS) | prereg_id


def _box(clinic: _Clinic) -> ColumnElement[bool]:
    """Where a person must live to reach ``clinic`` within their travel distance (a box that
    holds the circle), and a product the clinic offers."""
    miles = Preregistration.travel_miles
    edge = min(89.0, abs(clinic.latitude) + MAX_TRAVEL_MILES * DEG_PER_MILE)
    per_mile_lon = DEG_PER_MILE / math.cos(math.radians(edge))
    products = {p for _key, day_products in clinic.days for p in day_products}
    offered = sorted(p for p in products if p is not None)
    wanted: ColumnElement[bool] = Preregistration.product_id.is_(None)
    if offered:
        wanted = or_(wanted, Preregistration.product_id.in_(offered))
    return and_(
        Preregistration.latitude.between(
            clinic.latitude - miles * DEG_PER_MILE, clinic.latitude + miles * DEG_PER_MILE
        ),
        Preregistration.longitude.between(
            clinic.longitude - miles * per_mile_lon, clinic.longitude + miles * per_mile_lon
        ),
        wanted,
    )


def _near(clinics: Sequence[_Clinic]) -> ColumnElement[bool]:
    """Within reach of some released clinic, as a bounding-box filter the database applies."""
    if len(clinics) <= MAX_BOXES:
        return or_(*[_box(c) for c in clinics])
    # Many clinics: one box around them all, at the longest travel distance; the walk is exact.
    lat_pad = MAX_TRAVEL_MILES * DEG_PER_MILE
    edge = min(89.0, max(abs(c.latitude) for c in clinics) + lat_pad)
    lon_pad = lat_pad / math.cos(math.radians(edge))
    return and_(
        Preregistration.latitude.between(
            min(c.latitude for c in clinics) - lat_pad, max(c.latitude for c in clinics) + lat_pad
        ),
        Preregistration.longitude.between(
            min(c.longitude for c in clinics) - lon_pad, max(c.longitude for c in clinics) + lon_pad
        ),
    )


def eligible_filter(service: str, *, short_notice: bool) -> ColumnElement[bool]:
    """Waiting for ``service``, not booked, holding no live invitation (and, with
    ``short_notice``, asking for same-day offers)."""
    booked = exists().where(
        Reservation.person_key == Preregistration.person_key,
        Reservation.service == Preregistration.service,
        Reservation.status.in_([s.value for s in BOOKED_STATUSES]),
    )
    live = exists().where(
        Invitation.preregistration_id == Preregistration.id, Invitation.status == SENT
    )
    return and_(
        Preregistration.service == service,
        Preregistration.status == PreregistrationStatus.WAITING.value,
        ~booked,
        ~live,
        Preregistration.short_notice.is_(True) if short_notice else true(),
    )


def lottery_order(
    session: Session, seed: str, condition: ColumnElement[bool], *, stream: int = 20_000
) -> list[int]:
    """Everyone matching ``condition``, as ``sort_key`` integers in lottery order: the rows are
    streamed, never all held at once."""
    key = seed.encode()
    found: list[int] = []
    rows = session.execute(
        select(Preregistration.id, Preregistration.priority_rank)
        .where(condition)
        .execution_options(yield_per=stream)
    )
    for part in rows.partitions():
        found.extend(sort_key(key, rank, prereg_id) for prereg_id, rank in part)
    found.sort()
    return found


def _reachable(row: Any, clinics: Sequence[_Clinic]) -> list[str]:
    """The release keys a person reaches, nearest first (ties by key), as ``draw`` wants them."""
    reach = []
    lat_span = math.degrees(row.travel_miles / EARTH_RADIUS_MILES) * 1.0001
    for clinic in clinics:
        if abs(row.latitude - clinic.latitude) > lat_span:
            continue  # too far north or south: the distance is at least the latitude's
        distance = distance_miles(row.latitude, row.longitude, clinic.latitude, clinic.longitude)
        if distance > row.travel_miles:
            continue
        for key, products in clinic.days:
            if row.product_id is None or row.product_id in products:
                reach.append((distance, key))
    return [key for _d, key in sorted(reach)]


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def walk(
    session: Session, order: Sequence[int], clinics: Sequence[_Clinic], places: Mapping[str, int]
) -> tuple[list[Any], list[tuple[int, str]]]:
    """Go down the lottery order giving each person the nearest release with room, as ``draw``
    does, until no place is left: the pool reached (by id) and who was chosen where."""
    left = {key: count for key, count in places.items() if count > 0}
    pool: list[Any] = []
    chosen: list[tuple[int, str]] = []
    mask = (1 << ID_BITS) - 1
    for part in chunks(order, CHUNK):
        if not left:
            break
        ids = [k & mask for k in part]
        rows = {
            row.id: row
            for row in session.execute(
                select(
                    Preregistration.id,
                    Preregistration.latitude,
                    Preregistration.longitude,
                    Preregistration.travel_miles,
                    Preregistration.product_id,
                ).where(Preregistration.id.in_(ids))
            )
        }
        for packed, prereg_id in zip(part, ids, strict=True):
            if not left:
                break
            row = rows.get(prereg_id)  # gone since (deleted by retention): not in the pool
            keys = _reachable(row, clinics) if row is not None else []
            if not keys:
                continue
            pool.append([prereg_id, packed >> (HASH_BITS + ID_BITS), keys])
            key = next((k for k in keys if left.get(k, 0) > 0), None)
            if key is not None:
                chosen.append((prereg_id, key))
                left[key] -= 1
                if not left[key]:
                    del left[key]
    return sorted(pool), chosen


def draw_round(
    session: Session,
    *,
    service: str,
    now: datetime,
    seed: str,
    over_invitation: float,
    only: str | None,
    short_notice: bool,
) -> Drawn:
    """The places each release offers this round, and who the lottery gives them to."""
    releases = releases_of(session, service, now)
    if only is not None:
        releases = {key: entry for key, entry in releases.items() if key == only}
    places: dict[str, int] = {}
    for key, entry in releases.items():
        live = live_invitations(session, entry["clinic"].id, entry["day"])
        room = math.floor(entry["reserved"] * over_invitation + 1e-9) - live
        if room > 0:
            places[key] = room
    clinics: dict[int, _Clinic] = {}
    for key in sorted(places):
        entry = releases[key]
        clinic = entry["clinic"]
        found = clinics.setdefault(clinic.id, _Clinic(clinic.id, clinic.latitude, clinic.longitude))
        found.days.append((key, set(entry["products"])))
    targets = {
        key: (releases[key]["clinic"].id, releases[key]["day"], releases[key]["last"])
        for key in places
    }
    if not places:
        return Drawn(places, [], [], 0, targets)
    condition = and_(
        eligible_filter(service, short_notice=short_notice), _near(list(clinics.values()))
    )
    order = lottery_order(session, seed, condition)
    pool, chosen = walk(session, order, list(clinics.values()), places)
    return Drawn(places, pool, chosen, len(order), targets)
