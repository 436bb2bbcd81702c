"""Turning a request's arguments into a clinic search, shared by the API and the search pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from flask import abort, current_app

from booking.clock import now
from booking.db import db
from booking.models import VaccineProduct
from booking.services import inventory, products, provider_search, search
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.services.validation import parse_date, parse_int

MAX_RADIUS_MILES = 100
MAX_DAYS_AWAY = 366
RADIUS_CHOICES = (5, 10, 25, 50)
SEARCH_FIELDS = ("zip", "radius_miles", "date", "service", "product")


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
        ("place", lambda: search.find_place(args.get("zip"))),
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
    product = parse_product(args.get("product"), service, errors)
    parsed["product_id"] = product.id if product else None
    parsed["product_cvx"] = product.cvx_code if product else None
    if product is not None and service is None:
        parsed["service"] = product.service
    if "place" in parsed:
        # Searched by name, the page says the name; by ZIP code, the code.
        parsed["zip"] = parsed["place"].zip_code
        by_name = not str(args.get("zip", "")).strip()[:1].isdigit()
        parsed["where"] = parsed["place"].city if by_name else parsed["zip"]
    if errors:
        raise InvalidInput(N_("Please correct the search."), errors=errors)
    return parsed


def parse_product(
    raw: object, service: str | None, errors: dict[str, str]
) -> VaccineProduct | None:
    """A ``product`` argument: the key of an active product of the searched service, if any."""
    if raw is None or raw == "":
        return None
    try:
        wanted = products.parse_vaccine_filter(db.session, raw)
    except InvalidInput:
        wanted = products.VaccineFilter()
    if wanted.product is None:
        errors["product"] = products.BAD_VACCINE
    elif service is not None and service in inventory.SERVICES and wanted.service != service:
        errors["product"] = N_(
            "That product does not match the vaccine you chose: %(vaccine)s.",
            vaccine=inventory.SERVICES[service],
        )
    return wanted.product


def run_search(params: dict[str, Any]) -> list[inventory.ClinicResult]:
    """Search clinics near a validated place."""
    return search.clinics_near(
        db.session,
        place=params["place"],
        radius_miles=params["radius_miles"],
        day=params["date"],
        service=params["service"],
        product_id=params.get("product_id"),
        now=now(),
        horizon_days=current_app.config["BOOKING_DAYS"],
    )


def run_provider_search(params: dict[str, Any]) -> list[provider_search.ProviderResult]:
    """Other providers' fresh free appointments for the same validated search."""
    config = current_app.config
    return provider_search.providers_near(
        db.session,
        latitude=params["place"].latitude,
        longitude=params["place"].longitude,
        radius_miles=params["radius_miles"],
        now=now(),
        max_age=timedelta(minutes=config["PROVIDER_FEED_MAX_AGE_MINUTES"]),
        horizon_days=config["BOOKING_DAYS"],
        day=params["date"],
        service=params["service"],
        product_cvx=params.get("product_cvx"),
    )


# Wide enough to reach any clinic of the state from any place in it.
ANYWHERE_MILES = 250


def next_anywhere(params: dict[str, Any]) -> inventory.ClinicResult | None:
    """The soonest free appointment at any clinic of the state, for a search that found none."""
    everywhere = search.clinics_near(
        db.session,
        place=params["place"],
        radius_miles=ANYWHERE_MILES,
        day=None,
        service=params["service"],
        product_id=params.get("product_id"),
        now=now(),
        horizon_days=current_app.config["BOOKING_DAYS"],
        limit=500,
    )
    free = [r for r in everywhere if r.available_slots and r.next_available is not None]
    return min(free, key=lambda r: (r.next_available, r.distance_miles), default=None)


def beyond_horizon(params: dict[str, Any]) -> date | None:
    """The last bookable day, when the searched date lies outside the booking window."""
    day = params.get("date")
    today = now().date()
    last = today + timedelta(days=current_app.config["BOOKING_DAYS"] - 1)
    if day is not None and not today <= day <= last:
        return last
    return None


def pick_day(days: Sequence[tuple[date, int | None]], raw: str | None) -> date:
    """The day to show: the one asked for if valid, else the first with free places."""
    if raw:
        try:
            wanted = parse_date(raw)
        except InvalidInput:
            abort(404)
        if any(day == wanted for day, _ in days):
            return wanted
    return next((day for day, free in days if free), days[0][0])
