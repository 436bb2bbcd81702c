"""The admission queue's part of the OpenAPI document (merged in ``openapi.document``)."""

from __future__ import annotations

from typing import Any

from admission.states import LIVE_STATES
from booking.api.openapi_schemas import (
    DATE,
    HAS_CONDITION,
    RESIDENT,
    SERVICE,
    YES_NO,
    json_body,
    problem,
    ref,
)

# A ticket's phase: admission.queue.AdmissionQueue.phase computes it from the opening time. A line
# that is polled can read "closed" too, when the opening was moved later after people joined.
PHASES = ["closed", "prequeue", "open"]

TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "ticket",
        "state",
        "phase",
        "position",
        "ahead",
        "eta_seconds",
        "poll_after_seconds",
        "remaining_appointments",
        "sold_out",
        "likely_too_late",
        "paused",
        "paused_message",
        "opens_at",
        "updated_at",
        "standby_url",
    ],
    "properties": {
        "ticket": {"type": "string"},
        "state": {
            "type": "string",
            "enum": sorted(LIVE_STATES),
            "description": "Unknown and lapsed tickets answer 404.",
        },
        "phase": {"type": "string", "enum": PHASES},
        "position": {"type": ["integer", "null"], "description": "1 = next in"},
        "ahead": {"type": ["integer", "null"]},
        "eta_seconds": {
            "type": ["integer", "null"],
            "description": "From the admission rate observed on the server; null while paused.",
        },
        "poll_after_seconds": {
            "type": "integer",
            "description": (
                "Seconds until the next poll: longer the farther back in line, so the whole "
                "line keeps to the server's poll budget; 0 once admitted. Polling sooner "
                "changes nothing and counts against the client's poll allowance (429)."
            ),
        },
        "remaining_appointments": {"type": ["integer", "null"]},
        "sold_out": {"type": "boolean"},
        "likely_too_late": {"type": "boolean"},
        "paused": {"type": "boolean"},
        "paused_message": {"type": ["string", "null"]},
        "opens_at": {"type": ["string", "null"], "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "standby_url": {"type": ["string", "null"]},
        "admission_token": {
            "type": "string",
            "description": "Present once admitted: send as 'Authorization: Bearer <token>'.",
        },
    },
}

_TICKET_RESPONSE = {"content": {"application/json": {"schema": ref("QueueTicket")}}}
_UNAVAILABLE = problem(
    "The waiting room (or the database) is briefly unavailable.", retry_after=True
)

PATHS: dict[str, Any] = {
    "/api/v1/queue/tickets": {
        "post": {
            "operationId": "createQueueTicket",
            "summary": "Join the waiting room",
            "requestBody": json_body(
                {
                    "type": "object",
                    "properties": {
                        "hcaptcha_response": {
                            "type": "string",
                            "description": "Required when hCaptcha is configured.",
                        },
                        "service": SERVICE,
                        "date_of_birth": DATE,
                        "resident": {**YES_NO, "description": RESIDENT},
                        "has_condition": {**YES_NO, "description": HAS_CONDITION},
                    },
                },
                required=False,
            ),
            "responses": {
                "201": {"description": "In line (or admitted at once)", **_TICKET_RESPONSE},
                "409": problem("The waiting room has not opened yet."),
                "422": problem("hCaptcha or eligibility answers refused."),
                "503": _UNAVAILABLE,
            },
        }
    },
    "/api/v1/queue/tickets/{ticket}": {
        "get": {
            "operationId": "getQueueTicket",
            "summary": "Where a ticket stands; carries the admission token once admitted",
            "parameters": [
                {"name": "ticket", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "The ticket's status", **_TICKET_RESPONSE},
                "404": problem("Unknown or lapsed ticket."),
                "503": _UNAVAILABLE,
            },
        }
    },
}

# What every operation whose view is marked ``booking.web.gate.gated`` may also answer.
GATE_RESPONSES: dict[str, Any] = {
    "401": problem("The waiting room is on and no valid admission token was sent."),
    "503": _UNAVAILABLE,
}
SECURITY_SCHEMES: dict[str, Any] = {
    "admission": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admission token from GET /api/v1/queue/tickets/{ticket}. Needed "
        "only while the waiting room is on (any mode but `off`): with it off, holds and "
        "confirms need no `Authorization` at all, which is why their `security` also lists "
        "the empty requirement.",
    }
}
