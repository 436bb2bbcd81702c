"""Searching clinics and listing a clinic's slots."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, request

from booking.api import bp
from booking.api.common import MAX_ID
from booking.api.serializers import clinic_result_json, slot_json
from booking.clock import now
from booking.db import db
from booking.services import inventory
from booking.services.errors import InvalidInput, NotFound
from booking.services.geo import lookup_zip
from booking.services.text import N_
from booking.services.validation import parse_date, parse_int, parse_zip

MAX_RADIUS_MILES = 100
MAX_DAYS_AWAY = 366


def parse_day(raw: object) -> date:
    """A search date: a real calendar date within a year of today (and so of any time zone)."""
    day = parse_date(raw)
    if abs((day - now().date()).days) > MAX_DAYS_AWAY:
        raise InvalidInput(N_("Invalid date."), errors={"date": N_("Choose a date within a year.")})
    return day


def parse_search(args: Any) -> dict[str, Any]:
    """Validate search parameters shared by the API and the HTML search page."""
    errors: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name, parse in (
        ("zip", lambda: parse_zip(args.get("zip"))),
        (
            "radius_miles",
            lambda: parse_int(
                args.get("radius_miles", "10"), field="radius_miles", low=1, high=MAX_RADIUS_MILES
            ),
        ),
        ("date", lambda: parse_day(args["date"]) if args.get("date") else None),
    ):
        try:
            parsed[name] = parse()
        except InvalidInput as exc:
            errors.update(exc.errors)
    service = args.get("service") or None
    if service is not None and service not in inventory.SERVICES:
        errors["service"] = N_("Choose one of: %(choices)s.", choices=", ".join(inventory.SERVICES))
    parsed["service"] = service
    if "zip" in parsed and lookup_zip(parsed["zip"]) is None:
        errors["zip"] = N_("We do not know that ZIP code. Check it and try again.")
    if errors:
        raise InvalidInput(N_("Please correct the search."), errors=errors)
    return parsed


def run_search(params: dict[str, Any]) -> list[inventory.ClinicResult]:
    """Search clinics near a validated ZIP."""
    place = lookup_zip(params["zip"])
    assert place is not None
    return inventory.search_clinics(
        db.session,
        latitude=place.latitude,
        longitude=place.longitude,
        radius_miles=params["radius_miles"],
        now=now(),
        day=params["date"],
        service=params["service"],
        horizon_days=current_app.config["BOOKING_DAYS"],
    )


@bp.get("/v1/clinics")
def list_clinics() -> Any:
    """Clinics near a ZIP code, nearest first."""
    results = run_search(parse_search(request.args))
    return {"clinics": [clinic_result_json(r) for r in results]}


@bp.get("/v1/clinics/<clinic_id>/slots")
def list_slots(clinic_id: str) -> Any:
    """A clinic's slots on one local date."""
    digits = clinic_id.isascii() and clinic_id.isdigit() and len(clinic_id) <= 10
    if not digits or not 1 <= int(clinic_id) <= MAX_ID:
        raise NotFound(N_("No clinic with that id."))
    if not request.args.get("date"):
        raise InvalidInput(N_("Missing date."), errors={"date": N_("Give a date as YYYY-MM-DD.")})
    day = parse_day(request.args["date"])
    service = request.args.get("service") or None
    if service is not None and service not in inventory.SERVICES:
        choices = ", ".join(inventory.SERVICES)
        raise InvalidInput(
            N_("Unknown service."),
            errors={"service": N_("Choose one of: %(choices)s.", choices=choices)},
        )
    clinic = inventory.get_clinic(db.session, int(clinic_id))
    moment = now()
    slots = inventory.slots_for_day(db.session, clinic, day, now=moment, service=service)
    return {"slots": [slot_json(s, clinic.timezone, moment) for s in slots]}
