"""The availability summary's part of the OpenAPI document."""

from __future__ import annotations

from typing import Any

PATHS: dict[str, Any] = {
    "/api/v1/availability": {
        "get": {
            "operationId": "getAvailabilitySummary",
            "summary": "Per clinic, free appointments by day (public, cached, ETag / 304)",
            "responses": {
                "200": {
                    "description": "The summary",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "generated_at": {"type": "string", "format": "date-time"},
                                    "clinics": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "id": {"type": "integer"},
                                                "name": {"type": "string"},
                                                "city": {"type": "string"},
                                                "postal_code": {"type": "string"},
                                                "services": {
                                                    "type": "array",
                                                    "items": {"type": "string"},
                                                },
                                                "days": {
                                                    "type": "array",
                                                    "items": {
                                                        "type": "object",
                                                        "properties": {
                                                            "date": {
                                                                "type": "string",
                                                                "format": "date",
                                                            },
                                                            "available": {"type": "integer"},
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
                "304": {"description": "Not modified since the ETag or date sent"},
            },
        }
    }
}
