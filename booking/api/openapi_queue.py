"""The admission queue's part of the OpenAPI document (merged in ``openapi.document``)."""

from __future__ import annotations

from typing import Any

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM}


TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ticket", "state", "position", "eta_seconds", "poll_after_seconds"],
    "properties": {
        "ticket": {"type": "string"},
        "state": {"type": "string", "enum": ["waiting", "admitted"]},
        "phase": {"type": "string", "enum": ["prequeue", "open"]},
        "position": {"type": ["integer", "null"], "description": "1 = next in"},
        "ahead": {"type": ["integer", "null"]},
        "eta_seconds": {
            "type": ["integer", "null"],
            "description": "From the admission rate observed on the server; null while paused.",
        },
        "poll_after_seconds": {"type": "integer", "description": "When to ask again."},
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

_TICKET_RESPONSE = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/QueueTicket"}}}
}
_UNAVAILABLE = _problem("The waiting room is briefly unavailable (see Retry-After).")

PATHS: dict[str, Any] = {
    "/api/v1/queue/tickets": {
        "post": {
            "operationId": "createQueueTicket",
            "summary": "Join the waiting room",
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "hcaptcha_response": {
                                    "type": "string",
                                    "description": "Required when hCaptcha is configured.",
                                },
                                "service": {"type": "string", "enum": ["covid19", "flu", "rsv"]},
                                "date_of_birth": {"type": "string", "format": "date"},
                                "resident": {
                                    "type": "string",
                                    "enum": ["yes", "no"],
                                    "description": "Lives, works or studies in the state.",
                                },
                                "has_condition": {
                                    "type": "boolean",
                                    "description": "Attests a condition that puts them at "
                                    "higher risk (for phases that require one).",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": {"description": "In line (or admitted at once)", **_TICKET_RESPONSE},
                "409": _problem("The waiting room has not opened yet."),
                "422": _problem("hCaptcha or eligibility answers refused."),
                "429": _problem("Too many joins from this client."),
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
                "404": _problem("Unknown or lapsed ticket."),
                "429": _problem("Polling too often."),
                "503": _UNAVAILABLE,
            },
        }
    },
}

GATED = {("/api/v1/holds", "post"), ("/api/v1/holds/{hold_id}/confirm", "post")}
GATE_RESPONSES: dict[str, Any] = {
    "401": _problem("The waiting room is on and no valid admission token was sent."),
    "503": _UNAVAILABLE,
}
SECURITY_SCHEMES: dict[str, Any] = {
    "admission": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admission token from GET /api/v1/queue/tickets/{ticket}. Required "
        "while the waiting room is on (any mode but `off`).",
    }
}
