"""The availability summary's part of the OpenAPI document (merged in booking.api.openapi).

The body is publish.build_summary's; every field is always present. Rate limiting and server
errors are added by the document's builder.
"""

from __future__ import annotations

from typing import Any

_DAY = {
    "type": "object",
    "required": ["date", "available"],
    "properties": {"date": {"type": "string", "format": "date"}, "available": {"type": "integer"}},
}
_CLINIC = {
    "type": "object",
    "required": ["id", "name", "city", "postal_code", "services", "days"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "city": {"type": "string"},
        "postal_code": {"type": "string"},
        "services": {"type": "array", "items": {"type": "string"}},
        "days": {"type": "array", "items": _DAY},
    },
}
_SUMMARY = {
    "type": "object",
    "required": ["generated_at", "clinics"],
    "properties": {
        "generated_at": {"type": "string", "format": "date-time"},
        "clinics": {"type": "array", "items": _CLINIC},
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/availability": {
        "get": {
            "operationId": "getAvailabilitySummary",
            "summary": "Per clinic, free appointments by day (public, cached, ETag / 304)",
            "responses": {
                "200": {
                    "description": "The summary",
                    "content": {"application/json": {"schema": _SUMMARY}},
                },
                "304": {"description": "Not modified since the ETag or date sent"},
            },
        }
    }
}
