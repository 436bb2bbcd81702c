"""Reading the clinic console's forms into plain values; anything malformed is InvalidInput."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time, timedelta
from typing import Any

from booking.services.errors import InvalidInput
from booking.services.schedule import MAX_CAPACITY, MAX_EXPORT_DAYS
from booking.services.text import N_
from booking.services.validation import parse_date, parse_int

_TIME_24 = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# "9am", "9:30 AM", "5:30 p.m.": the clock the clinic's staff write; 12 AM is midnight.
_TIME_12 = re.compile(r"^(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*([ap])\.?\s*m?\.?$", re.IGNORECASE)
MAX_REASON = 200


def parse_time(raw: object) -> time | None:
    """A time of day written on a 12-hour ("9:30 AM", "5pm") or 24-hour ("17:00") clock."""
    text = raw.strip()[:12] if isinstance(raw, str) else ""
    if found := _TIME_24.match(text):
        return time(int(found[1]), int(found[2]))
    if found := _TIME_12.match(text):
        hour = int(found[1]) % 12 + (12 if found[3].lower() == "p" else 0)
        return time(hour, int(found[2] or 0))
    return None


def _time(raw: object, field: str, errors: dict[str, str]) -> time | None:
    parsed = parse_time(raw)
    if parsed is None:
        errors[field] = N_("Enter a time like 9:00 AM or 17:00.")
    return parsed


def schedule_values(form: Any) -> dict[str, Any]:
    """The bulk-schedule form as keyword arguments for ``schedule.plan_schedule``.

    ``product_id`` is the posted id (None when the form names only a service); the view loads
    the product and passes it on as ``product``.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field in ("first", "last"):
        try:
            values[field] = parse_date(form.get(field), field=field)
        except InvalidInput as exc:
            errors.update(exc.errors)
    for field in ("opens", "closes"):
        values[field] = _time(form.get(field), field, errors)
    for field, low, high in (("slot_minutes", 5, 240), ("capacity", 1, MAX_CAPACITY)):
        try:
            values[field] = parse_int(form.get(field), field=field, low=low, high=high)
        except InvalidInput as exc:
            errors.update(exc.errors)
    chosen = form.getlist("weekdays")
    if not chosen or any(d not in ("0", "1", "2", "3", "4", "5", "6") for d in chosen):
        errors["weekdays"] = N_("Choose at least one weekday.")
    values["weekdays"] = {int(d) for d in chosen if d in ("0", "1", "2", "3", "4", "5", "6")}
    # A product names its service; a form with only a service gets the service's default.
    values["product_id"] = None
    if form.get("product_id"):
        try:
            values["product_id"] = id_value(form.get("product_id"), field="product_id")
        except InvalidInput:
            errors["product_id"] = N_("Choose a vaccine this clinic offers.")
        values["service"] = ""
    else:
        service = form.get("service")
        if not isinstance(service, str) or not service or len(service) > 40:
            errors["service"] = N_("Choose a vaccine this clinic offers.")
        values["service"] = service or ""
    if errors:
        raise InvalidInput(N_("Please correct the schedule."), errors=errors)
    return values


def day_value(raw: object, *, today: date, field: str = "date") -> date:
    """A date from a form or query string (today when absent), within ten years of today."""
    if raw is None or raw == "":
        return today
    day = parse_date(raw, field=field)
    if abs((day - today).days) > 3660:
        raise InvalidInput(
            N_("Invalid date."), errors={field: N_("Choose a date within ten years.")}
        )
    return day


def export_range(args: Mapping[str, Any], *, today: date) -> tuple[date, date]:
    """The first and last day of a CSV export: one day, or at most 31."""
    first = day_value(args.get("from"), today=today, field="from")
    last = day_value(args.get("to") or first.isoformat(), today=today, field="to")
    if last < first:
        raise InvalidInput(
            N_("Invalid range."), errors={"to": N_("The last day must not be before the first.")}
        )
    if last - first >= timedelta(days=MAX_EXPORT_DAYS):
        raise InvalidInput(
            N_("Range too long."),
            errors={"to": N_("Export at most %(num)d days at a time.", num=MAX_EXPORT_DAYS)},
        )
    return first, last


def reason_value(raw: object) -> str | None:
    """The reason told to residents: optional, one line, at most 200 characters."""
    text = raw.strip() if isinstance(raw, str) else ""
    if len(text) > MAX_REASON or any(ord(c) < 32 for c in text):
        raise InvalidInput(
            N_("Invalid reason."),
            errors={"reason": N_("Give one line of at most %(num)d characters.", num=MAX_REASON)},
        )
    return text or None


def capacity_value(raw: object) -> int:
    """A slot's new capacity (0 stops further bookings without cancelling anyone)."""
    return parse_int(raw, field="capacity", low=0, high=MAX_CAPACITY)


def id_value(raw: object, *, field: str) -> int:
    """A record id posted in a form."""
    return parse_int(raw, field=field, low=1, high=2_147_483_647)
