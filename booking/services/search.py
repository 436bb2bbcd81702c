"""Finding clinics near a ZIP code: the one search behind the API, the resident and agent pages."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from booking.services import inventory
from booking.services.errors import InvalidInput
from booking.services.geo import lookup_zip
from booking.services.text import N_

UNKNOWN_ZIP = N_("We do not know that ZIP code. Check it and try again.")


def clinics_near(
    session: Session,
    *,
    zip_code: str,
    radius_miles: int,
    day: date | None,
    service: str | None,
    now: datetime,
    horizon_days: int,
    product_id: int | None = None,
) -> list[inventory.ClinicResult]:
    """Clinics within ``radius_miles`` of a known ZIP code, nearest first."""
    place = lookup_zip(zip_code)
    if place is None:
        raise InvalidInput(N_("Please correct the search."), errors={"zip": UNKNOWN_ZIP})
    return inventory.search_clinics(
        session,
        latitude=place.latitude,
        longitude=place.longitude,
        radius_miles=radius_miles,
        now=now,
        day=day,
        service=service,
        product_id=product_id,
        horizon_days=horizon_days,
    )
