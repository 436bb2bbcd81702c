"""The OpenAPI paths and schemas of preregistration (booking.api.preregistrations)."""

from __future__ import annotations

from typing import Any

from booking.api.openapi_schemas import (
    DATE,
    EMAIL,
    HAS_CONDITION,
    ID,
    LANGUAGE_TAGS,
    NAME,
    PHONE,
    RESIDENT,
    SERVICE,
    YES_NO,
    ZIP,
    json_body,
    json_response,
    problem,
    ref,
)
from booking.models import LOCALES, PreregistrationStatus
from booking.models.preregistrations import MAX_TRAVEL_MILES

_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The status token returned at sign-up (the private link's last part).",
    "schema": {"type": "string", "maxLength": 80},
}
_UNKNOWN = problem("No preregistration has this token.")
_INVALID = problem("A field is invalid; `errors` lists each one (eligibility included).")
_CLOSED = problem("The preregistration is withdrawn or done and can no longer change.")
_LANGUAGE = {
    "type": "string",
    "enum": list(LOCALES),
    "description": f"The language of the messages ({', '.join(LANGUAGE_TAGS)}).",
}

_CONTACT = [
    {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
    {"required": ["email"], "properties": {"email": {"type": "string"}}},
]
DETAILS: dict[str, Any] = {
    "zip": {
        **ZIP,
        "description": "Where the person travels from: a ZIP code or a town of the state.",
    },
    "travel_miles": {"type": "integer", "minimum": 1, "maximum": MAX_TRAVEL_MILES},
    "phone": {**PHONE, "description": "US mobile number for text messages"},
    "email": EMAIL,
    "language": _LANGUAGE,
    "product_id": {
        "anyOf": [ID, {"type": "string", "enum": ["any"]}, {"type": "null"}],
        "description": 'A product of `service` (its id), or "any" / null for any.',
    },
    "accessibility": {"type": "string", "maxLength": 500},
    "short_notice": {**YES_NO, "description": "Also offer same-day places (default no)."},
}

SCHEMAS: dict[str, Any] = {
    "PreregistrationRequest": {
        "type": "object",
        "required": [
            "first_name",
            "last_name",
            "date_of_birth",
            "service",
            "zip",
            "travel_miles",
            "language",
            "resident",
            "consent",
        ],
        "anyOf": _CONTACT,
        "description": "At least one of phone and email is required. The eligibility answers "
        "are checked against the phases in force today; the first phase (in opening order) "
        "that admits the person is their priority group.",
        "properties": {
            "first_name": NAME,
            "last_name": NAME,
            "date_of_birth": DATE,
            "service": SERVICE,
            **DETAILS,
            "resident": {**YES_NO, "description": RESIDENT},
            "has_condition": {**YES_NO, "description": HAS_CONDITION},
            "consent": {
                "type": ["boolean", "string"],
                "enum": [True, "yes"],
                "description": "Agrees to be contacted (required: true or yes).",
            },
        },
    },
    "PreregistrationDetails": {
        "type": "object",
        "required": ["zip", "travel_miles", "language"],
        "anyOf": _CONTACT,
        "description": "The changeable details, replaced whole (phone or email required).",
        "properties": DETAILS,
    },
    "Preregistration": {
        "type": "object",
        "required": [
            "status",
            "service",
            "priority_group",
            "priority_rank",
            "invitations_in_group",
            "zip",
            "travel_miles",
            "language",
            "product_id",
            "short_notice",
            "retention_days",
        ],
        "properties": {
            "status": {"type": "string", "enum": [s.value for s in PreregistrationStatus]},
            "service": SERVICE,
            "priority_group": {"type": "string"},
            "priority_rank": {"type": "integer", "minimum": 0, "description": "0 is first"},
            "invitations_in_group": {
                "type": "integer",
                "minimum": 0,
                "description": "People of the group invited so far (no place in line is given).",
            },
            "zip": {"type": "string"},
            "travel_miles": {"type": "integer"},
            "language": _LANGUAGE,
            "product_id": {"oneOf": [ID, {"type": "null"}]},
            "short_notice": {"type": "boolean"},
            "retention_days": {
                "type": "integer",
                "description": "Days it is kept after withdrawal or vaccination.",
            },
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/preregistrations": {
        "post": {
            "operationId": "createPreregistration",
            "summary": "Preregister a person to be invited when a place near them opens",
            "requestBody": json_body(ref("PreregistrationRequest")),
            "responses": {
                "201": json_response(
                    {
                        "type": "object",
                        "required": ["status_token", "preregistration"],
                        "properties": {
                            "status_token": {
                                "type": "string",
                                "description": "Shown once: the key to read, change or "
                                "withdraw this preregistration.",
                            },
                            "preregistration": ref("Preregistration"),
                        },
                    },
                    "Preregistered",
                ),
                "409": problem(
                    "The person already has an active preregistration, or already a booking "
                    "for this vaccine."
                ),
                "422": _INVALID,
            },
        }
    },
    "/api/v1/preregistrations/{token}": {
        "get": {
            "operationId": "getPreregistration",
            "summary": "Where the person stands: group, status, the group's invitations so far",
            "parameters": [_TOKEN],
            "responses": {
                "200": json_response(ref("Preregistration"), "Found"),
                "404": _UNKNOWN,
            },
        }
    },
    "/api/v1/preregistrations/{token}/details": {
        "put": {
            "operationId": "updatePreregistration",
            "summary": "Replace the changeable details (not the name, birth date or answers)",
            "parameters": [_TOKEN],
            "requestBody": json_body(ref("PreregistrationDetails")),
            "responses": {
                "200": json_response(ref("Preregistration"), "Changed"),
                "404": _UNKNOWN,
                "409": _CLOSED,
                "422": _INVALID,
            },
        }
    },
    "/api/v1/preregistrations/{token}/withdraw": {
        "post": {
            "operationId": "withdrawPreregistration",
            "summary": "Withdraw; no more invitations, deleted after the retention time",
            "parameters": [_TOKEN],
            "responses": {
                "200": json_response(ref("Preregistration"), "Withdrawn (or already)"),
                "404": _UNKNOWN,
                "409": _CLOSED,
            },
        }
    },
}
