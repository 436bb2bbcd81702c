"""The OpenAPI document's building blocks: response helpers, enums from the code, components.

The enums are read from where the code defines them (the services, reservation statuses and
channels, the shipped languages), so the document cannot list a value the server does not use.
"""

from __future__ import annotations

from typing import Any

from booking.i18n import bcp47
from booking.models import BOOKED_STATUSES, LOCALES, Channel, ReservationStatus
from booking.services.inventory import SERVICES

PROBLEM_JSON = "application/problem+json"
SERVICE_NAMES = list(SERVICES)
# What a reservation with a confirmation code can be: holds get their code when confirmed.
CODED_STATUSES = [status.value for status in (*BOOKED_STATUSES, ReservationStatus.CANCELLED)]
CHANNELS = [channel.value for channel in Channel]
LANGUAGE_TAGS = [bcp47(code) for code in LOCALES]


def ref(name: str) -> dict[str, str]:
    """A reference to a schema in components."""
    return {"$ref": f"#/components/schemas/{name}"}


def problem(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    """A response carrying RFC 9457 problem details (always with Content-Language)."""
    headers: dict[str, Any] = {"Content-Language": {"$ref": "#/components/headers/Language"}}
    if retry_after:
        headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    return {
        "description": description,
        "headers": headers,
        "content": {PROBLEM_JSON: {"schema": ref("Problem")}},
    }


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A JSON response with the given schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def json_body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """A JSON request body with the given schema."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}


# Whatever an operation with a request body may also answer (the builder adds them).
BODY_ERRORS: dict[str, Any] = {
    "400": problem(
        "The body is not a JSON object, or a value in it holds a control character (NUL and the "
        "like; `errors` names each one)."
    ),
    "413": problem("The body is larger than the server accepts."),
    "415": problem("The body is not JSON."),
}
# Every request's text is checked before its operation runs (booking/web/input_guard.py).
EDGE_ERRORS: dict[str, Any] = {
    "400": problem(
        "A query, path, header or body value holds a control character (NUL and the like; "
        "`errors` names each one)."
    ),
}
# Whatever any operation may answer: a bug, or a database too busy to finish in time.
SERVER_ERRORS: dict[str, Any] = {
    "500": problem("Something went wrong on the server."),
    "503": problem("Briefly overloaded; try again after Retry-After.", retry_after=True),
}
TOO_MANY = problem("Too many requests from this client.", retry_after=True)

DATE = {"type": "string", "format": "date", "examples": ["2026-12-01"]}
NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 100,
    "description": "Must contain a letter; no control characters.",
}
# A ZIP code, or a town, city or Boston neighbourhood of the state by name (at most 60
# characters; a misspelt name is a 422 with suggestions, a ZIP code of another state a 422).
ZIP = {
    "type": "string",
    "minLength": 1,
    "maxLength": 60,
    # No control character anywhere (booking/web/input_guard.py), as in every text.
    "pattern": "^([0-9]{5}(-[0-9]{4})?|[^\\u0000-\\u001f\\u007f-\\u009f]*"
    "[^0-9 \\u0000-\\u001f\\u007f-\\u009f-][^\\u0000-\\u001f\\u007f-\\u009f]*)$",
    "examples": ["02115", "Worcester", "Jamaica Plain"],
}
# booking.services.validation.normalize_phone: ten digits (eleven with a leading 1), the area
# code and exchange not starting with 0 or 1, between spaces, dots, dashes, parentheses and +.
_SEP = "[ \\t()+.-]*"
PHONE = {
    "type": "string",
    "maxLength": 40,
    "pattern": f"^{_SEP}(1{_SEP})?[2-9]{_SEP}[0-9]{_SEP}[0-9]{_SEP}[2-9]({_SEP}[0-9]){{6}}{_SEP}$",
    "description": "US number, any common format",
    "examples": ["617-555-0123"],
}
# validation._EMAIL_RE, less the control characters the edge refuses.
_NOT_IN_EMAIL = "@\\s\\u0000-\\u001f\\u007f-\\u009f"
EMAIL = {
    "type": "string",
    "maxLength": 254,
    "pattern": f"^[^{_NOT_IN_EMAIL}]{{1,64}}@[^{_NOT_IN_EMAIL}]+\\.[^{_NOT_IN_EMAIL}]{{2,}}$",
    "examples": ["maria@example.com"],
}
YES_NO = {"type": ["boolean", "string"], "enum": [True, False, "yes", "no"]}
RESIDENT = "Lives, works or studies in the state."
HAS_CONDITION = "Attests a condition that puts them at higher risk (default no)."
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}  # ids are 32-bit in the database
TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset"}
SERVICE = {"type": "string", "enum": SERVICE_NAMES}
PRODUCT_PARAMETER: dict[str, Any] = {
    "name": "product",
    "in": "query",
    "description": "Only this vaccine product (its key, e.g. moderna-covid19); it must be a "
    "product of `service` when both are given.",
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,79}$"},
}

HEADERS: dict[str, Any] = {
    "Language": {
        "description": "The language of the problem's texts (from Accept-Language).",
        "schema": {"type": "string", "enum": LANGUAGE_TAGS},
    },
    "RetryAfter": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
}

_RESERVATION_STATUS = {"type": "string", "enum": CODED_STATUSES}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "instance"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "rule": {
                "type": "string",
                "enum": ["age", "residency", "condition", "phase", "product_age"],
                "description": "Not eligible: the rule that refused the person.",
            },
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                },
            },
        },
    },
    "Address": {
        "type": "object",
        "required": ["line", "city", "state", "postal_code"],
        "properties": {
            "line": {"type": "string"},
            "city": {"type": "string"},
            "state": {"type": "string"},
            "postal_code": {"type": "string"},
        },
    },
    "Clinic": {
        "type": "object",
        "required": [
            "id",
            "name",
            "address",
            "phone",
            "latitude",
            "longitude",
            "timezone",
            "services",
            "distance_miles",
            "available_slots",
            "next_available",
        ],
        "properties": {
            "id": ID,
            "name": {"type": "string"},
            "address": ref("Address"),
            "phone": {"type": ["string", "null"]},
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "timezone": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string"}},
            "distance_miles": {"type": "number"},
            "available_slots": {"type": "integer"},
            "next_available": {"oneOf": [TIME, {"type": "null"}]},
        },
    },
    "Slot": {
        "type": "object",
        "required": ["id", "start", "end", "service", "vaccine", "capacity", "available"],
        "properties": {
            "id": ID,
            "start": TIME,
            "end": TIME,
            "service": {"type": "string"},
            "vaccine": ref("Vaccine"),
            "capacity": {"type": "integer"},
            "available": {"type": "integer"},
        },
    },
    "Vaccine": {
        "type": "object",
        "description": "The vaccine product, with its words in the language of Accept-Language.",
        "required": ["product", "service", "name", "manufacturer", "cvx_code", "description"],
        "properties": {
            "product": {"type": "string", "description": "The product's key"},
            "service": SERVICE,
            "name": {"type": "string", "examples": ["Moderna"]},
            "manufacturer": {"type": "string"},
            "cvx_code": {"type": "string", "pattern": "^[0-9]{1,3}$", "examples": ["207"]},
            "description": {"type": "string", "examples": ["COVID-19 vaccine (Moderna)"]},
        },
    },
    "Hold": {
        "type": "object",
        "required": ["hold_id", "slot_id", "expires_at"],
        "properties": {"hold_id": {"type": "string"}, "slot_id": ID, "expires_at": TIME},
    },
    "Person": {
        "type": "object",
        "required": ["first_name", "last_name", "date_of_birth", "resident"],
        # A null phone or email is one left out (so it does not count).
        "anyOf": [
            {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
            {"required": ["email"], "properties": {"email": {"type": "string"}}},
        ],
        "description": "At least one of phone and email is required. The eligibility rules "
        "are checked on the appointment's date: age (and the product's ages), `resident`, "
        "`has_condition`.",
        "properties": {
            "first_name": NAME,
            "last_name": NAME,
            "date_of_birth": DATE,
            "phone": PHONE,
            "email": EMAIL,
            "eligibility_attested": {"type": "boolean"},
            "second_dose_slot_id": {
                **ID,
                "description": "Two-dose products: the slot for dose 2 (default: the same time "
                "of day on the first day dose 2 is due, if it has room).",
            },
            "prior_dose_date": {
                **DATE,
                "description": "Dose 2 only: the date dose 1 was given elsewhere.",
            },
            "resident": {**YES_NO, "description": RESIDENT},
            "has_condition": {**YES_NO, "description": HAS_CONDITION},
            "companion": {
                "type": "boolean",
                "description": "Where FAIRSLOT_COMPANION_BOOKING is on: this booking is the one "
                "companion (same clinic and day) of the admission's own booking.",
            },
        },
    },
    "Confirmation": {
        "type": "object",
        "required": [
            "confirmation_code",
            "confirmation_code_display",
            "manage_token",
            "reservation",
        ],
        "properties": {
            "confirmation_code": {"type": "string", "pattern": "^[2-9A-HJKMNP-TW-Z]{8}$"},
            "confirmation_code_display": {"type": "string"},
            "manage_token": {"type": "string"},
            "reservation": {
                "type": "object",
                "required": ["status", "slot_id", "clinic_id", "start", "vaccine"],
                "properties": {
                    "status": _RESERVATION_STATUS,
                    "slot_id": ID,
                    "clinic_id": ID,
                    "start": TIME,
                    "vaccine": ref("Vaccine"),
                },
            },
            "second_dose": {
                "type": "object",
                "description": "Dose 2, booked with dose 1 of a two-dose product.",
                "required": ["confirmation_code", "slot_id", "clinic_id", "start", "vaccine"],
                "properties": {
                    "confirmation_code": {"type": "string"},
                    "slot_id": ID,
                    "clinic_id": ID,
                    "start": TIME,
                    "vaccine": ref("Vaccine"),
                },
            },
        },
    },
    "SecondDoseSlots": {
        "type": "object",
        "required": ["window", "default_slot_id", "complete", "slots"],
        "properties": {
            "window": {
                "type": "object",
                "required": ["first_day", "last_day", "min_days", "max_days"],
                "properties": {
                    "first_day": DATE,
                    "last_day": DATE,
                    "min_days": {"type": "integer", "minimum": 1},
                    "max_days": {"type": "integer", "minimum": 1},
                },
            },
            "default_slot_id": {
                "oneOf": [ID, {"type": "null"}],
                "description": "Booked when dose 1 is confirmed without second_dose_slot_id; "
                "null: there is no free place at that time, so one must be chosen.",
            },
            "complete": {
                "type": "boolean",
                "description": "False when the list stops before the window ends.",
            },
            "slots": {"type": "array", "items": ref("Slot")},
        },
    },
    "Dose": {
        "type": "object",
        "description": "The other appointment of a two-dose course booked here.",
        "required": ["confirmation_code", "status", "slot_id", "clinic_id", "start", "vaccine"],
        "properties": {
            "confirmation_code": {"type": "string"},
            "status": _RESERVATION_STATUS,
            "slot_id": ID,
            "clinic_id": ID,
            "start": TIME,
            "vaccine": ref("Vaccine"),
        },
    },
    "Reservation": {
        "type": "object",
        "required": ["confirmation_code", "reservation"],
        "properties": {
            "confirmation_code": {"type": "string"},
            "first_dose": {**ref("Dose"), "description": "Looking up dose 2: its dose 1."},
            "second_dose": {**ref("Dose"), "description": "Looking up dose 1: its dose 2."},
            "reservation": {
                "type": "object",
                "required": [
                    "status",
                    "slot_id",
                    "clinic_id",
                    "clinic_name",
                    "service",
                    "vaccine",
                    "start",
                    "end",
                    "first_name",
                    "last_name",
                    "channel",
                    "dose_number",
                    "prior_dose_date",
                ],
                "properties": {
                    "status": _RESERVATION_STATUS,
                    "slot_id": ID,
                    "clinic_id": ID,
                    "clinic_name": {"type": "string"},
                    "service": {"type": "string"},
                    "vaccine": ref("Vaccine"),
                    "start": TIME,
                    "end": TIME,
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "channel": {"type": "string", "enum": CHANNELS},
                    "dose_number": {"type": "integer", "enum": [1, 2]},
                    "prior_dose_date": {
                        "oneOf": [DATE, {"type": "null"}],
                        "description": "Dose 2 only: the date dose 1 was given elsewhere.",
                    },
                },
            },
        },
    },
}
