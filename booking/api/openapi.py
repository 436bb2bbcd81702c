"""The OpenAPI 3.1 document for API v1, served at /api/openapi.json."""

from __future__ import annotations

import copy
from typing import Any

from booking.api import bp, openapi_queue
from booking.api import openapi_availability as opendata_openapi


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_DATE = {"type": "string", "format": "date", "examples": ["2026-12-01"]}
_ID = {"type": "integer", "minimum": 1}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset"}
_HOLD_ID = {"name": "hold_id", "in": "path", "required": True, "schema": {"type": "string"}}
_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "8-character confirmation code; dashes, spaces and case are ignored.",
    "schema": {"type": "string"},
}
_COMMON_ERRORS = {
    "400": _problem("The body is not a JSON object."),
    "415": _problem("The body is not JSON."),
    "422": _problem("A field is invalid; `errors` lists each one."),
    "429": _problem("Too many requests from this client; see Retry-After."),
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
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
        "required": ["id", "name", "address", "distance_miles", "available_slots"],
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "address": _ref("Address"),
            "phone": {"type": ["string", "null"]},
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "timezone": {"type": "string"},
            "services": {"type": "array", "items": {"type": "string"}},
            "distance_miles": {"type": "number"},
            "available_slots": {"type": "integer"},
            "next_available": {"oneOf": [_TIME, {"type": "null"}]},
        },
    },
    "Slot": {
        "type": "object",
        "required": ["id", "start", "end", "service", "capacity", "available"],
        "properties": {
            "id": _ID,
            "start": _TIME,
            "end": _TIME,
            "service": {"type": "string"},
            "capacity": {"type": "integer"},
            "available": {"type": "integer"},
        },
    },
    "Hold": {
        "type": "object",
        "required": ["hold_id", "slot_id", "expires_at"],
        "properties": {"hold_id": {"type": "string"}, "slot_id": _ID, "expires_at": _TIME},
    },
    "Person": {
        "type": "object",
        "required": ["first_name", "last_name", "date_of_birth"],
        "description": "At least one of phone and email is required.",
        "properties": {
            "first_name": {"type": "string", "maxLength": 100},
            "last_name": {"type": "string", "maxLength": 100},
            "date_of_birth": _DATE,
            "phone": {"type": "string", "description": "US number, any common format"},
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "eligibility_attested": {"type": "boolean"},
        },
    },
    "Confirmation": {
        "type": "object",
        "required": ["confirmation_code", "manage_token", "reservation"],
        "properties": {
            "confirmation_code": {"type": "string", "pattern": "^[2-9A-HJKMNP-TW-Z]{8}$"},
            "confirmation_code_display": {"type": "string"},
            "manage_token": {"type": "string"},
            "reservation": {
                "type": "object",
                "required": ["status", "slot_id", "clinic_id", "start"],
                "properties": {
                    "status": {"type": "string"},
                    "slot_id": _ID,
                    "clinic_id": _ID,
                    "start": _TIME,
                },
            },
        },
    },
    "Reservation": {
        "type": "object",
        "required": ["confirmation_code", "reservation"],
        "properties": {
            "confirmation_code": {"type": "string"},
            "reservation": {
                "type": "object",
                "properties": {
                    "status": {
                        "type": "string",
                        "enum": [
                            "confirmed",
                            "cancelled",
                            "checked_in",
                            "no_show",
                        ],
                    },
                    "slot_id": _ID,
                    "clinic_id": _ID,
                    "clinic_name": {"type": "string"},
                    "service": {"type": "string"},
                    "start": _TIME,
                    "end": _TIME,
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "channel": {"type": "string"},
                },
            },
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/clinics": {
        "get": {
            "operationId": "listClinics",
            "summary": "Clinics near a ZIP code, nearest first",
            "parameters": [
                {"name": "zip", "in": "query", "required": True, "schema": {"type": "string"}},
                {
                    "name": "radius_miles",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                },
                {"name": "date", "in": "query", "schema": _DATE},
                {
                    "name": "service",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["covid19", "flu", "rsv"]},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"clinics": {"type": "array", "items": _ref("Clinic")}},
                    },
                    "Matching clinics",
                ),
                "422": _COMMON_ERRORS["422"],
            },
        }
    },
    "/api/v1/clinics/{clinic_id}/slots": {
        "get": {
            "operationId": "listSlots",
            "summary": "A clinic's slots on one date (in the clinic's time zone)",
            "parameters": [
                {"name": "clinic_id", "in": "path", "required": True, "schema": _ID},
                {"name": "date", "in": "query", "required": True, "schema": _DATE},
                {
                    "name": "service",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["covid19", "flu", "rsv"]},
                },
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"slots": {"type": "array", "items": _ref("Slot")}},
                    },
                    "Slots of the day",
                ),
                "404": _problem("Unknown clinic."),
                "422": _COMMON_ERRORS["422"],
            },
        }
    },
    "/api/v1/holds": {
        "post": {
            "operationId": "createHold",
            "summary": "Hold one place in a slot while the resident fills in the form",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "description": "Replaying the same key returns the same hold.",
                    "schema": {"type": "string", "maxLength": 255},
                }
            ],
            "requestBody": _body(
                {"type": "object", "required": ["slot_id"], "properties": {"slot_id": _ID}}
            ),
            "responses": {
                "201": _json(_ref("Hold"), "Held"),
                "404": _problem("Unknown slot."),
                "409": _problem("The slot is full or closed."),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/v1/holds/{hold_id}": {
        "delete": {
            "operationId": "releaseHold",
            "summary": "Release a hold; its place goes back to the pool",
            "parameters": [_HOLD_ID],
            "responses": {
                "204": {"description": "Released (or already gone)"},
                "404": _problem("Unknown hold."),
                "409": _problem("The hold was already confirmed."),
            },
        }
    },
    "/api/v1/holds/{hold_id}/confirm": {
        "post": {
            "operationId": "confirmHold",
            "summary": "Confirm a hold for a resident; replays return the same reservation",
            "parameters": [_HOLD_ID],
            "requestBody": _body(_ref("Person")),
            "responses": {
                "201": _json(_ref("Confirmation"), "Confirmed"),
                "404": _problem("Unknown hold."),
                "409": _problem("The person already has a reservation for this service."),
                "410": _problem("The hold expired."),
                **_COMMON_ERRORS,
            },
        }
    },
    "/api/v1/reservations/{code}": {
        "get": {
            "operationId": "getReservation",
            "summary": "Look a reservation up by code and date of birth",
            "parameters": [
                _CODE,
                {"name": "date_of_birth", "in": "query", "required": True, "schema": _DATE},
            ],
            "responses": {
                "200": _json(_ref("Reservation"), "Found"),
                "404": _problem("No reservation matches this code and date of birth."),
                "422": _COMMON_ERRORS["422"],
                "429": _COMMON_ERRORS["429"],
            },
        }
    },
    "/api/v1/reservations/{code}/cancel": {
        "post": {
            "operationId": "cancelReservation",
            "summary": "Cancel a reservation; its place goes back to the pool",
            "parameters": [_CODE],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["date_of_birth"],
                    "properties": {"date_of_birth": _DATE},
                }
            ),
            "responses": {
                "200": _json(_ref("Reservation"), "Cancelled"),
                "404": _problem("No reservation matches this code and date of birth."),
                "409": _problem("The reservation cannot be cancelled in its current state."),
                **_COMMON_ERRORS,
            },
        }
    },
}


def document() -> dict[str, Any]:
    """Return the whole OpenAPI 3.1 document."""
    paths = copy.deepcopy(PATHS)
    for path, method in openapi_queue.GATED:
        operation = paths[path][method]
        operation["security"] = [{"admission": []}]
        operation["responses"].update(openapi_queue.GATE_RESPONSES)
    paths.update(openapi_queue.PATHS)
    paths.update(opendata_openapi.PATHS)
    schemas = {**SCHEMAS, "QueueTicket": openapi_queue.TICKET_SCHEMA}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "FairSlot API",
            "version": "1.0.0",
            "description": "Find, hold and book vaccination appointments. Errors are RFC 9457 "
            "problem details (application/problem+json).",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": openapi_queue.SECURITY_SCHEMES},
    }


@bp.get("/openapi.json")
def openapi_document() -> Any:
    """Serve the OpenAPI document."""
    return document()
