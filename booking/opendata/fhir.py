"""FHIR R4 Location, Schedule and Slot resources in the SMART Scheduling Links profile."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from booking.models import Clinic, Slot, VaccineProduct
from booking.services.geo import county_of
from booking.services.slot_links import slot_page_query

REGISTRY = "http://fhir-registry.smarthealthit.org"
BOOKING_DEEP_LINK = f"{REGISTRY}/StructureDefinition/booking-deep-link"
BOOKING_PHONE = f"{REGISTRY}/StructureDefinition/booking-phone"
SLOT_CAPACITY = f"{REGISTRY}/StructureDefinition/slot-capacity"
VACCINE_PRODUCT = f"{REGISTRY}/StructureDefinition/vaccine-product"
VACCINE_DOSE = f"{REGISTRY}/StructureDefinition/vaccine-dose"
CVX = "http://hl7.org/fhir/sid/cvx"
SMART_SERVICE_TYPE = f"{REGISTRY}/CodeSystem/service-type"
VTRCKS = "https://cdc.gov/vaccines/programs/vtrcks"
# The spec defines a service-type code for COVID-19 only. Flu and RSV Schedules carry the
# generic Immunization code with the vaccine-product extension and are published in their own
# manifests (see publish.py), so a client that reads any Immunization Schedule of the default
# manifest as COVID-19 is never misled.
SERVICE_TYPES: dict[str, list[dict[str, str]]] = {
    "covid19": [
        {
            "system": SMART_SERVICE_TYPE,
            "code": "covid19-immunization",
            "display": "COVID-19 Immunization Appointment",
        },
    ],
}
# English words for FHIR text and displays (the published data is not translated).
SERVICE_TEXT = {"covid19": "COVID-19", "flu": "Influenza", "rsv": "RSV"}
IMMUNIZATION = {
    "system": "http://terminology.hl7.org/CodeSystem/service-type",
    "code": "57",
    "display": "Immunization",
}


def location(
    clinic: Clinic, *, base_url: str, identifier_system: str, fallback_phone: str
) -> dict[str, Any]:
    """A clinic as a FHIR Location.

    Identifiers: the clinic's VTrckS PIN when it has one (what aggregators de-duplicate on),
    and its id under ``identifier_system``, which does not follow the site's address. A clinic
    without a phone of its own gives the state helpline, so every Location has both a phone
    and a URL, as the spec asks. ``district`` is the county of the clinic's ZIP code.
    """
    identifiers = [{"system": identifier_system, "value": str(clinic.id)}]
    if clinic.vtrcks_pin:
        identifiers.insert(0, {"system": VTRCKS, "value": clinic.vtrcks_pin})
    address: dict[str, Any] = {
        "line": [clinic.address_line],
        "city": clinic.city,
        "state": clinic.state,
        "postalCode": clinic.postal_code,
    }
    county = county_of(clinic.postal_code)
    if county:
        address["district"] = county
    return {
        "resourceType": "Location",
        "id": str(clinic.id),
        "identifier": identifiers,
        "name": clinic.name,
        "telecom": [
            {"system": "phone", "value": clinic.phone or fallback_phone},
            {"system": "url", "value": f"{base_url}/clinics/{clinic.id}"},
        ],
        "address": address,
        "position": {"latitude": clinic.latitude, "longitude": clinic.longitude},
    }


def schedule_id(clinic_id: int, service: str, product_id: int) -> str:
    """One Schedule per clinic and vaccine product (ids: letters, digits, '-' and '.')."""
    return f"{clinic_id}.{service}.{product_id}"


def product_display(product: VaccineProduct) -> str:
    """The product's name with its vaccine, e.g. "Moderna COVID-19 vaccine"."""
    return f"{product.name} {SERVICE_TEXT.get(product.service, product.service)} vaccine"


def schedule(clinic: Clinic, product: VaccineProduct) -> dict[str, Any]:
    """A clinic's calendar for one vaccine product, with its CVX code and the doses it offers.

    The spec asks for one Schedule per product ("SHOULD NOT repeat" the product extension).
    Dose 2 of a course is booked on its product's slots at the same clinic, so a two-dose
    product's Schedule offers doses 1 and 2.
    """
    extension: list[dict[str, Any]] = [
        {
            "url": VACCINE_PRODUCT,
            "valueCoding": {
                "system": CVX,
                "code": product.cvx_code,
                "display": product_display(product),
            },
        },
        *({"url": VACCINE_DOSE, "valueInteger": dose} for dose in range(1, product.doses + 1)),
    ]
    service_type = {
        "coding": [IMMUNIZATION, *SERVICE_TYPES.get(product.service, [])],
        "text": f"{SERVICE_TEXT.get(product.service, product.service)} immunization",
    }
    return {
        "resourceType": "Schedule",
        "id": schedule_id(clinic.id, product.service, product.id),
        "serviceType": [service_type],
        "actor": [{"reference": f"Location/{clinic.id}", "display": clinic.name}],
        "extension": extension,
    }


def deep_link(base_url: str, slot: Slot, tz: str, product: VaccineProduct) -> str:
    """FairSlot's page for this slot: its day, its vaccine and the slot offered first.

    Booking from it still goes through the waiting room, which brings the visitor back here.
    """
    return f"{base_url}/clinics/{slot.clinic_id}?{slot_page_query(slot, tz, product)}"


def slots(
    slot: Slot,
    clinic: Clinic,
    product: VaccineProduct,
    *,
    now: datetime,
    base_url: str,
    phone: str,
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
        "schedule": {
            "reference": f"Schedule/{schedule_id(clinic.id, slot.service, slot.product_id)}"
        },
        "start": slot.starts_at.astimezone(tz).isoformat(timespec="seconds"),
        "end": slot.ends_at.astimezone(tz).isoformat(timespec="seconds"),
    }
    for status, count in (("free", free), ("busy", busy)):
        if count <= 0:
            continue
        extension: list[dict[str, Any]] = [{"url": SLOT_CAPACITY, "valueInteger": count}]
        if status == "free":
            extension = [
                {
                    "url": BOOKING_DEEP_LINK,
                    "valueUrl": deep_link(base_url, slot, clinic.timezone, product),
                },
                {"url": BOOKING_PHONE, "valueString": phone},
                *extension,
            ]
        yield {**common, "id": f"{slot.id}.{status}", "status": status, "extension": extension}
