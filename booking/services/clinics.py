"""Creating, editing and deactivating clinics."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Clinic
from booking.services.errors import InvalidInput, NotFound
from booking.services.geo import lookup_zip
from booking.services.inventory import SERVICES
from booking.services.text import N_
from booking.services.validation import normalize_phone

_ZIP = re.compile(r"^\d{5}$")
_STATE = re.compile(r"^[A-Z]{2}$")
# VTrckS PINs are short codes of capital letters and digits (the spec's examples add hyphens).
_PIN = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,19}$")


def _float(raw: Any, field: str, low: float, high: float, errors: dict[str, str]) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[field] = N_("Enter a number.")
        return 0.0
    if not low <= value <= high:
        errors[field] = N_("Enter a number from %(low)s to %(high)s.", low=low, high=high)
    return value


# Whole sentences per field, so each language can word them its own way.
_MISSING = {
    "name": N_("Enter the name."),
    "address_line": N_("Enter the street address."),
    "city": N_("Enter the city."),
}
_TOO_LONG = {
    "name": N_("The name must be at most %(limit)d plain characters."),
    "address_line": N_("The street address must be at most %(limit)d plain characters."),
    "city": N_("The city must be at most %(limit)d plain characters."),
}


def _text(raw: Any, field: str, limit: int, errors: dict[str, str]) -> str:
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        errors[field] = _MISSING[field]
    elif len(value) > limit or any(ord(ch) < 32 for ch in value):
        errors[field] = N_(_TOO_LONG[field].msgid, limit=limit)
    return value


def parse_clinic(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate a clinic form; raise InvalidInput naming every bad field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "name": _text(raw.get("name"), "name", 200, errors),
        "address_line": _text(raw.get("address_line"), "address_line", 200, errors),
        "city": _text(raw.get("city"), "city", 100, errors),
        "state": (raw.get("state") or "").strip().upper(),
        "postal_code": (raw.get("postal_code") or "").strip(),
        "latitude": _float(raw.get("latitude"), "latitude", -90, 90, errors),
        "longitude": _float(raw.get("longitude"), "longitude", -180, 180, errors),
        "timezone": (raw.get("timezone") or "America/New_York").strip(),
    }
    if not _STATE.match(values["state"]):
        errors["state"] = N_("Enter the two-letter state code.")
    if not _ZIP.match(values["postal_code"]):
        errors["postal_code"] = N_("Enter a 5-digit ZIP code.")
    elif "state" not in errors:
        # The published county comes from the ZIP code, so it must be the clinic's state's.
        place = lookup_zip(values["postal_code"])
        if place is not None and place.state != values["state"]:
            errors["postal_code"] = N_(
                "This ZIP code is in %(zip_state)s, not %(state)s.",
                zip_state=place.state,
                state=values["state"],
            )
    if values["timezone"] not in available_timezones():
        errors["timezone"] = N_("Enter a time zone such as America/New_York.")
    phone_raw = raw.get("phone") or ""
    values["phone"] = None
    if phone_raw.strip():
        normalized = normalize_phone(phone_raw)
        if normalized is None:
            errors["phone"] = N_("Enter a 10-digit US phone number.")
        else:
            values["phone"] = phone_raw.strip()
    pin_raw = raw.get("vtrcks_pin")
    pin = re.sub(r"\s", "", pin_raw).upper() if isinstance(pin_raw, str) else ""
    values["vtrcks_pin"] = pin or None
    if pin and not _PIN.match(pin):
        errors["vtrcks_pin"] = N_(
            "Enter the VTrckS PIN as the CDC issued it: 3 to 20 letters and digits."
        )
    services = raw.get("services") or []
    if isinstance(services, str):
        services = [services]
    if not services or any(s not in SERVICES for s in services):
        errors["services"] = N_("Choose at least one vaccine.")
    values["services"] = [s for s in SERVICES if s in services]
    if errors:
        raise InvalidInput(N_("Please correct the clinic details."), errors=errors)
    return values


def _check_pin_free(session: Session, pin: str | None, clinic_id: int | None) -> None:
    """Refuse a VTrckS PIN another clinic has (the unique index would refuse it too)."""
    if pin is None:
        return
    holder = session.scalar(select(Clinic.id).where(Clinic.vtrcks_pin == pin))
    if holder is not None and holder != clinic_id:
        raise InvalidInput(
            N_("Please correct the clinic details."),
            errors={"vtrcks_pin": N_("Another clinic has this VTrckS PIN.")},
        )


def _key_for(session: Session, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "clinic"
    key, n = base, 1
    while session.scalar(select(Clinic.id).where(Clinic.key == key)) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


def create_clinic(session: Session, raw: dict[str, Any], *, now: datetime) -> Clinic:
    """Add a clinic from form values."""
    values = parse_clinic(raw)
    _check_pin_free(session, values["vtrcks_pin"], None)
    clinic = Clinic(
        key=_key_for(session, values["name"]),
        kind="health_center",
        active=True,
        created_at=now,
        **values,
    )
    session.add(clinic)
    session.flush()
    return clinic


def update_clinic(session: Session, clinic_id: int, raw: dict[str, Any]) -> Clinic:
    """Edit a clinic's details."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound(N_("No clinic with that id."))
    values = parse_clinic(raw)
    _check_pin_free(session, values["vtrcks_pin"], clinic_id)
    for name, value in values.items():
        setattr(clinic, name, value)
    session.flush()
    return clinic


def set_active(session: Session, clinic_id: int, active: bool) -> Clinic:
    """Deactivate (hide from residents) or reactivate a clinic; its bookings stay as they are."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound(N_("No clinic with that id."))
    clinic.active = active
    session.flush()
    return clinic
