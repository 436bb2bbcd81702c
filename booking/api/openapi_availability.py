"""The availability summary's part of the OpenAPI document (merged in booking.api.openapi).

The body is publish.build_summary's; every field is always present. Rate limiting and server
errors are added by the document's builder. The SMART Scheduling Links manifests
(/$bulk-publish for COVID-19, /<service>/$bulk-publish for each service) are not under /api/v1/
and follow that spec rather than this document; the operation's description points to them.
"""

from __future__ import annotations

from typing import Any

from booking.models.vaccines import SERVICE_CODES

_DAY = {
    "type": "object",
    "required": ["date", "available", "by_service"],
    "properties": {
        "date": {"type": "string", "format": "date"},
        "available": {"type": "integer", "description": "Free places that day, all vaccines"},
        "by_service": {
            "type": "object",
            "description": "The same places per service (only services with slots that day)",
            "propertyNames": {"enum": list(SERVICE_CODES)},
            "additionalProperties": {"type": "integer"},
        },
    },
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

_FEEDS = (
    "For the state's own finder page. Vaccine finders should read the SMART Scheduling Links "
    "manifests instead: /$bulk-publish (COVID-19 only, as the 2021 specification reads it) and "
    "one per service: " + ", ".join(f"/{code}/$bulk-publish" for code in SERVICE_CODES) + "."
)

PATHS: dict[str, Any] = {
    "/api/v1/availability": {
        "get": {
            "operationId": "getAvailabilitySummary",
            "summary": "Per clinic, free appointments by day (public, cached, ETag / 304)",
            "description": _FEEDS,
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
