"""How clinics, slots and reservations look in the JSON API (times with their offsets)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from booking.db import db
from booking.i18n import translate
from booking.models import Clinic, Reservation, Slot, VaccineProduct
from booking.services import products
from booking.services.inventory import ClinicResult
from booking.services.text import Msg


def local_iso(value: datetime, tz: str) -> str:
    """ISO 8601 in the clinic's local time with its UTC offset, to the second."""
    return value.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def clinic_json(clinic: Clinic) -> dict[str, Any]:
    """A clinic's public description."""
    return {
        "id": clinic.id,
        "name": clinic.name,
        "address": {
            "line": clinic.address_line,
            "city": clinic.city,
            "state": clinic.state,
            "postal_code": clinic.postal_code,
        },
        "phone": clinic.phone,
        "latitude": clinic.latitude,
        "longitude": clinic.longitude,
        "timezone": clinic.timezone,
        "services": list(clinic.services or []),
    }


def clinic_result_json(result: ClinicResult) -> dict[str, Any]:
    """A search hit: the clinic plus distance and availability."""
    body = clinic_json(result.clinic)
    body["distance_miles"] = result.distance_miles
    body["available_slots"] = result.available_slots
    body["next_available"] = (
        local_iso(result.next_available, result.clinic.timezone) if result.next_available else None
    )
    return body


def vaccine_json(product: VaccineProduct, words: Msg) -> dict[str, Any]:
    """A vaccine product: its key, brand, maker and CVX code, and its plain words."""
    return {
        "product": product.key,
        "service": product.service,
        "name": product.name,
        "manufacturer": product.manufacturer,
        "cvx_code": product.cvx_code,
        "description": str(translate(words)),
    }


def slot_json(slot: Slot, tz: str, now: datetime) -> dict[str, Any]:
    """A slot with its live availability for online booking."""
    product = products.slot_product(db.session, slot)
    return {
        "id": slot.id,
        "start": local_iso(slot.starts_at, tz),
        "end": local_iso(slot.ends_at, tz),
        "service": slot.service,
        "vaccine": vaccine_json(product, products.describe(product)),
        "capacity": slot.capacity,
        "available": slot.available_online(now),
    }


def booking_vaccine_json(reservation: Reservation) -> dict[str, Any]:
    """A booking's vaccine with its dose in words ("..., dose 1 of 2")."""
    product = products.get_product(db.session, reservation.product_id)
    return vaccine_json(product, products.describe_reservation(product, reservation))


def dose_json(reservation: Reservation, slot: Slot, clinic: Clinic) -> dict[str, Any]:
    """The other appointment of a course, as the booking's holder may see it."""
    return {
        "confirmation_code": reservation.confirmation_code,
        "status": reservation.status,
        "slot_id": slot.id,
        "clinic_id": clinic.id,
        "start": local_iso(slot.starts_at, clinic.timezone),
        "vaccine": booking_vaccine_json(reservation),
    }


def reservation_json(reservation: Reservation, slot: Slot, clinic: Clinic) -> dict[str, Any]:
    """A reservation as its holder may see it."""
    product = products.slot_product(db.session, slot)
    return {
        "status": reservation.status,
        "slot_id": slot.id,
        "clinic_id": clinic.id,
        "clinic_name": clinic.name,
        "service": slot.service,
        "vaccine": vaccine_json(product, products.describe_reservation(product, reservation)),
        "start": local_iso(slot.starts_at, clinic.timezone),
        "end": local_iso(slot.ends_at, clinic.timezone),
        "first_name": reservation.first_name,
        "last_name": reservation.last_name,
        "channel": reservation.channel,
        "dose_number": reservation.dose_number,
        "prior_dose_date": (
            reservation.prior_dose_date.isoformat() if reservation.prior_dose_date else None
        ),
    }
