"""FHIR R4 Location, Schedule and Slot resources in the SMART Scheduling Links profile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from booking.models import Clinic, Slot

REGISTRY = "http://fhir-registry.smarthealthit.org"
BOOKING_DEEP_LINK = f"{REGISTRY}/StructureDefinition/booking-deep-link"
BOOKING_PHONE = f"{REGISTRY}/StructureDefinition/booking-phone"
SLOT_CAPACITY = f"{REGISTRY}/StructureDefinition/slot-capacity"
SERVICE_TYPES: dict[str, list[dict[str, str]]] = {
    "covid19": [
        {
            "system": f"{REGISTRY}/CodeSystem/service-type",
            "code": "covid19-immunization",
            "display": "COVID-19 Immunization Appointment",
        },
    ],
}
IMMUNIZATION = {
    "system": "http://terminology.hl7.org/CodeSystem/service-type",
    "code": "57",
    "display": "Immunization",
}


def location(clinic: Clinic, base_url: str) -> dict[str, Any]:
    """A clinic as a FHIR Location."""
    telecom = []
    if clinic.phone:
        telecom.append({"system": "phone", "value": clinic.phone})
    telecom.append({"system": "url", "value": f"{base_url}/clinics/{clinic.id}"})
    return {
        "resourceType": "Location",
        "id": str(clinic.id),
        "identifier": [{"system": f"{base_url}/clinics", "value": str(clinic.id)}],
        "name": clinic.name,
        "telecom": telecom,
        "address": {
            "line": [clinic.address_line],
            "city": clinic.city,
            "state": clinic.state,
            "postalCode": clinic.postal_code,
        },
        "position": {"latitude": clinic.latitude, "longitude": clinic.longitude},
    }


def schedule_id(clinic_id: int, service: str) -> str:
    """One Schedule per clinic and service (ids: letters, digits, '-' and '.')."""
    return f"{clinic_id}.{service}"


def schedule(clinic: Clinic, service: str) -> dict[str, Any]:
    """A clinic's calendar for one service."""
    return {
        "resourceType": "Schedule",
        "id": schedule_id(clinic.id, service),
        "serviceType": [{"coding": [IMMUNIZATION, *SERVICE_TYPES.get(service, [])]}],
        "actor": [{"reference": f"Location/{clinic.id}", "display": clinic.name}],
    }


def deep_link(base_url: str, slot: Slot, tz: str) -> str:
    """FairSlot's page for this slot (which still goes through the waiting room)."""
    day = slot.starts_at.astimezone(ZoneInfo(tz)).date().isoformat()
    query = urlencode({"date": day, "service": slot.service, "slot": slot.id})
    return f"{base_url}/clinics/{slot.clinic_id}?{query}"


def slots(
    slot: Slot, clinic: Clinic, *, now: datetime, base_url: str, phone: str
) -> Iterator[dict[str, Any]]:
    """A slot as up to two aggregated FHIR Slots: its free places and its busy ones.

    The spec lets a publisher aggregate identical slots with the slot-capacity extension; a
    FairSlot slot of capacity 40 with 12 places free becomes a "free" Slot of capacity 12 and a
    "busy" Slot of capacity 28, so aggregators see both availability and total capacity.
    """
    tz = ZoneInfo(clinic.timezone)
    free = slot.available_online(now) if slot.is_open else 0
    busy = slot.capacity - free
    common = {
        "resourceType": "Slot",
        "schedule": {"reference": f"Schedule/{schedule_id(clinic.id, slot.service)}"},
        "start": slot.starts_at.astimezone(tz).isoformat(timespec="seconds"),
        "end": slot.ends_at.astimezone(tz).isoformat(timespec="seconds"),
    }
    for status, count in (("free", free), ("busy", busy)):
        if count <= 0:
            continue
        extension: list[dict[str, Any]] = [{"url": SLOT_CAPACITY, "valueInteger": count}]
        if status == "free":
            extension = [
                {"url": BOOKING_DEEP_LINK, "valueUrl": deep_link(base_url, slot, clinic.timezone)},
                {"url": BOOKING_PHONE, "valueString": phone},
                *extension,
            ]
        yield {**common, "id": f"{slot.id}.{status}", "status": status, "extension": extension}
