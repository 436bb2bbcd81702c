"""The clinic systems API's part of the OpenAPI document (views: booking.api.clinic_systems)."""

from __future__ import annotations

from typing import Any

from booking.api.openapi_schemas import (
    DATE,
    ID,
    SERVICE,
    TIME,
    json_body,
    json_response,
    problem,
)
from booking.services.clinic_api import MAX_ITEMS

SECURITY_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "description": "A clinic API key (`fsk_…`), made by a clinic manager in the clinic console "
    "(API keys). It acts for its own clinic and any a state admin added; cookies never count.",
}
_CLINIC = {
    "name": "clinic_id",
    "in": "path",
    "required": True,
    "description": "A clinic in the key's scope.",
    "schema": {"type": "string"},
}
_EXTERNAL_ID = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$",
    "description": "The slot's id in the clinic's own system, unique at the clinic.",
}
_ITEM = {
    "type": "object",
    "required": ["external_id"],
    "description": "Without `closed`: create the slot (times, capacity and a service or "
    "product), or change a known slot's capacity (never below what is held or booked; a known "
    "slot cannot move). With `closed: true`: close it, cancelling and notifying everyone "
    "booked, as the console does.",
    "properties": {
        "external_id": _EXTERNAL_ID,
        "starts_at": {**TIME, "description": "Whole minutes, with an offset."},
        "ends_at": {**TIME, "description": "Same local day; 5 to 240 minutes after the start."},
        "service": SERVICE,
        "product_id": ID,
        "capacity": {"type": "integer", "minimum": 0, "maximum": 1000},
        "closed": {"type": "boolean"},
        "reason": {"type": "string", "maxLength": 200},
    },
}
_OUTCOME = {
    "type": "object",
    "required": ["external_id", "slot_id", "outcome"],
    "properties": {
        "external_id": _EXTERNAL_ID,
        "slot_id": ID,
        "outcome": {
            "type": "string",
            "enum": ["created", "adopted", "updated", "unchanged", "closed"],
        },
        "bookings_cancelled": {"type": "integer", "minimum": 0},
    },
}
_ROSTER_ROW = {
    "type": "object",
    "properties": {
        "confirmation_code": {"type": "string"},
        "status": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "date_of_birth": {"type": ["string", "null"], "format": "date"},
        "phone": {"type": ["string", "null"]},
        "dose_number": {"type": "integer"},
        "slot": {
            "type": "object",
            "properties": {
                "id": ID,
                "external_id": {"type": ["string", "null"]},
                "service": SERVICE,
                "product_id": ID,
                "starts_at": TIME,
                "ends_at": TIME,
            },
        },
    },
}
_KEY_REFUSED = problem(
    "No valid key: missing, malformed, unknown, rotated or revoked (with `WWW-Authenticate`)."
)
_SECURITY: list[dict[str, list[str]]] = [{"clinicKey": []}]
PATHS: dict[str, Any] = {
    "/api/v1/clinic-systems/clinics/{clinic_id}/slot-batches": {
        "post": {
            "operationId": "pushSlotBatch",
            "summary": "Create, resize and close the clinic's slots by its own ids, in one batch",
            "description": "All or nothing, in one transaction. Send a new `Idempotency-Key` "
            "per batch: the same key and body again answer the first result "
            "(`Idempotent-Replayed: true`); the same key with another body is refused (422).",
            "security": _SECURITY,
            "parameters": [
                _CLINIC,
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                },
            ],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["slots"],
                    "properties": {
                        "slots": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_ITEMS,
                            "items": _ITEM,
                        }
                    },
                }
            ),
            "responses": {
                "200": {
                    **json_response(
                        {
                            "type": "object",
                            "required": ["idempotency_key", "slots"],
                            "properties": {
                                "idempotency_key": {"type": "string"},
                                "slots": {"type": "array", "items": _OUTCOME},
                            },
                        },
                        "Applied (or the stored answer of this Idempotency-Key)",
                    ),
                    "headers": {
                        "Idempotent-Replayed": {
                            "description": "`true` when this is the first request's answer.",
                            "schema": {"type": "string", "enum": ["true"]},
                        }
                    },
                },
                "400": problem("No Idempotency-Key, or the body is not a JSON object."),
                "401": _KEY_REFUSED,
                "404": problem(
                    "The clinic is not in the key's scope (or does not exist), or a slot to "
                    "close is not known at this clinic (`errors` points at it)."
                ),
                "409": problem(
                    "A slot would move, is closed, or cannot go below what is booked; another "
                    "batch with this key is in flight (`errors` points at the slot)."
                ),
                "422": problem(
                    "A slot is invalid (`errors` points at each field), or the Idempotency-Key "
                    "was used for another body."
                ),
            },
        }
    },
    "/api/v1/clinic-systems/clinics/{clinic_id}/roster": {
        "get": {
            "operationId": "getClinicRoster",
            "summary": "The clinic's booked residents on one local day",
            "security": _SECURITY,
            "parameters": [
                _CLINIC,
                {"name": "date", "in": "query", "required": True, "schema": DATE},
            ],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "required": ["date", "reservations"],
                        "properties": {
                            "date": DATE,
                            "reservations": {"type": "array", "items": _ROSTER_ROW},
                        },
                    },
                    "The day's bookings, by time",
                ),
                "401": _KEY_REFUSED,
                "404": problem("The clinic is not in the key's scope (or does not exist)."),
                "422": problem("The date is missing or invalid."),
            },
        }
    },
}
