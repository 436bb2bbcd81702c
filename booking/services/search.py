"""Finding clinics near a place: the one search behind the API, the resident and agent pages.

A place is a ZIP code or a town, city or Boston neighbourhood of the state, by name (offline,
from the ZIP data); a misspelt name gets the closest names as suggestions, and a ZIP code in
another state is told that FairSlot books appointments in this one.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from sqlalchemy.orm import Session

from booking.services import inventory
from booking.services.errors import InvalidInput
from booking.services.geo import SERVICE_STATE, ZipPlace, lookup_town, lookup_zip, suggest_towns
from booking.services.text import N_

UNKNOWN_ZIP = N_("We do not know that ZIP code. Check it and try again.")
_ZIP = re.compile(r"^\d{5}(-\d{4})?$")
MAX_PLACE = 60  # characters: the longest town name is far shorter


def find_place(raw: object, *, field: str = "zip") -> ZipPlace:
    """The ZIP code or the state's town named in a search box, or a reason to ask again."""
    text = " ".join(raw.split())[:MAX_PLACE] if isinstance(raw, str) else ""
    if not text:
        message = N_("Enter a ZIP code or a town.")
        raise InvalidInput(message, errors={field: message})
    if _ZIP.match(text):
        place = lookup_zip(text[:5])
        if place is None:
            raise InvalidInput(N_("Please correct the search."), errors={field: UNKNOWN_ZIP})
        if place.state != SERVICE_STATE:
            message = N_(
                "FairSlot books vaccination appointments in Massachusetts. ZIP code %(zip)s is "
                "in %(state)s: look for that state's vaccine finder, or enter a Massachusetts "
                "ZIP code or town.",
                zip=place.zip_code,
                state=place.state,
            )
            raise InvalidInput(message, errors={field: message})
        return place
    if text.replace("-", "").isdigit():
        message = N_("Enter a 5-digit ZIP code, or a town.")
        raise InvalidInput(message, errors={field: message})
    town = lookup_town(text)
    if town is not None:
        return town
    close = suggest_towns(text)
    if close:
        message = N_(
            "We do not know a place called “%(name)s” in Massachusetts. Did you mean %(names)s?",
            name=text,
            names=", ".join(close),
        )
    else:
        message = N_(
            "We do not know a place called “%(name)s” in Massachusetts. Check the spelling, "
            "or enter a ZIP code.",
            name=text,
        )
    raise InvalidInput(message, errors={field: message})


def clinics_near(
    session: Session,
    *,
    place: ZipPlace,
    radius_miles: int,
    day: date | None,
    service: str | None,
    now: datetime,
    horizon_days: int,
    product_id: int | None = None,
    limit: int = 50,
) -> list[inventory.ClinicResult]:
    """Clinics within ``radius_miles`` of a place, nearest first."""
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
        limit=limit,
    )
