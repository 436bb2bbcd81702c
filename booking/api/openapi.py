"""The OpenAPI 3.1 document for API v1, served at /api/openapi.json.

The paths are written here (and in openapi_queue and booking.opendata.openapi); what the code
already says is read from it: the enums (openapi_schemas), which operations need an admission
token (views marked ``booking.web.gate.gated``) and which are rate limited (booking.limits).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app

from booking.api import bp, openapi_clinic_systems, openapi_prereg, openapi_queue
from booking.api import openapi_availability as opendata_openapi
from booking.api.openapi_limits import exact
from booking.api.openapi_schemas import (
    BODY_ERRORS,
    DATE,
    EDGE_ERRORS,
    HEADERS,
    ID,
    PRODUCT_PARAMETER,
    SCHEMAS,
    SERVER_ERRORS,
    SERVICE,
    TOO_MANY,
    ZIP,
    json_body,
    json_response,
    problem,
    ref,
)
from booking.clock import utcnow
from booking.limits import LIMITED_ENDPOINTS, POLL_ENDPOINTS
from booking.web.gate import GATED

API_PREFIX = "/api/v1/"
_HOLD_ID = {"name": "hold_id", "in": "path", "required": True, "schema": {"type": "string"}}
_CODE = {
    "name": "code",
    "in": "path",
    "required": True,
    "description": "8-character confirmation code; dashes, spaces and case are ignored.",
    "schema": {"type": "string"},
}
_INVALID = problem("A field is invalid; `errors` lists each one.")
_NOT_ELIGIBLE = problem(
    "A field is invalid (`errors` lists each one), or the rules refuse this person "
    "(`urn:fairslot:problem:not-eligible`, `rule` names the rule; at confirm, the hold is "
    "released)."
)

PATHS: dict[str, Any] = {
    "/api/v1/clinics": {
        "get": {
            "operationId": "listClinics",
            "summary": "Clinics near a ZIP code, nearest first",
            "parameters": [
                {"name": "zip", "in": "query", "required": True, "schema": ZIP},
                {
                    "name": "radius_miles",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
                },
                {"name": "date", "in": "query", "schema": DATE},
                {
                    "name": "service",
                    "in": "query",
                    "schema": SERVICE,
                },
                PRODUCT_PARAMETER,
            ],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "properties": {"clinics": {"type": "array", "items": ref("Clinic")}},
                    },
                    "Matching clinics",
                ),
                "422": _INVALID,
            },
        }
    },
    "/api/v1/clinics/{clinic_id}/slots": {
        "get": {
            "operationId": "listSlots",
            "summary": "A clinic's slots on one date (in the clinic's time zone)",
            "parameters": [
                {"name": "clinic_id", "in": "path", "required": True, "schema": ID},
                {"name": "date", "in": "query", "required": True, "schema": DATE},
                {
                    "name": "service",
                    "in": "query",
                    "schema": SERVICE,
                },
                PRODUCT_PARAMETER,
            ],
            "responses": {
                "200": json_response(
                    {
                        "type": "object",
                        "properties": {"slots": {"type": "array", "items": ref("Slot")}},
                    },
                    "Slots of the day",
                ),
                "404": problem("Unknown clinic."),
                "422": _INVALID,
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
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            ],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["slot_id"],
                    "properties": {
                        "slot_id": ID,
                        "date_of_birth": {
                            **DATE,
                            "description": "Optional. Given, a slot whose vaccine product or "
                            "rules exclude this age on the slot's date is refused (422, "
                            "`rule`) before any place is held.",
                        },
                    },
                }
            ),
            "responses": {
                "201": json_response(ref("Hold"), "Held"),
                "404": problem("Unknown slot."),
                "409": problem(
                    "The slot is full, closed or already started, the Idempotency-Key "
                    "was used for another slot, or the admission already made its booking "
                    "(`urn:fairslot:problem:admission-used`: join the line again)."
                ),
                "422": _NOT_ELIGIBLE,
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
                "404": problem("Unknown hold."),
                "409": problem("The hold was already confirmed."),
            },
        }
    },
    "/api/v1/holds/{hold_id}/confirm": {
        "post": {
            "operationId": "confirmHold",
            "summary": "Confirm a hold for a resident; replays return the same reservation",
            "parameters": [_HOLD_ID],
            "requestBody": json_body(ref("Person")),
            "responses": {
                "201": json_response(ref("Confirmation"), "Confirmed"),
                "404": problem("Unknown hold."),
                "409": problem(
                    "The person already has a reservation for this service; the hold was "
                    "released, confirmed for someone else or placed under another admission; "
                    "or the admission already made its booking "
                    "(`urn:fairslot:problem:admission-used`: the hold is released; join the "
                    "line again)."
                ),
                "410": problem("The hold expired."),
                "422": _NOT_ELIGIBLE,
            },
        }
    },
    "/api/v1/slots/{slot_id}/second-dose-slots": {
        "get": {
            "operationId": "listSecondDoseSlots",
            "summary": "Dose 2's free times for dose 1 at this slot (a two-dose product)",
            "description": "The clinic's free slots of the same product on the days dose 2 is "
            "due (from `min_days` to `max_days` after dose 1's day), and the default: the same "
            "time of day on the first day due, if it has room. Send one as "
            "`second_dose_slot_id` when confirming dose 1.",
            "parameters": [{"name": "slot_id", "in": "path", "required": True, "schema": ID}],
            "responses": {
                "200": json_response(ref("SecondDoseSlots"), "Dose 2's times"),
                "404": problem("Unknown slot."),
                "422": problem("The slot's vaccine is given as one dose."),
            },
        }
    },
    "/api/v1/reservations/{code}": {
        "get": {
            "operationId": "getReservation",
            "summary": "Look a reservation up by code and date of birth",
            "parameters": [
                _CODE,
                {"name": "date_of_birth", "in": "query", "required": True, "schema": DATE},
            ],
            "responses": {
                "200": json_response(ref("Reservation"), "Found"),
                "404": problem("No reservation matches this code and date of birth."),
                "422": _INVALID,
            },
        }
    },
    "/api/v1/reservations/{code}/reschedule": {
        "post": {
            "operationId": "rescheduleReservation",
            "summary": "Move a booking to another time; a course moves together",
            "description": "The new place is taken before the old one is freed. Within the "
            "clinic no admission is needed; a move to another clinic is a new choice of place "
            "and, while the waiting room is on, needs the admission token (and spends it, as a "
            "booking does). The person must be eligible on the new date for the new slot's "
            "product. Dose 1 of a course: dose 2 stays if it still lies inside the new window, "
            "else `second_dose_slot_id` chooses it (see listSecondDoseSlots).",
            "security": [{}, {"admission": []}],
            "parameters": [_CODE],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["date_of_birth", "slot_id"],
                    "properties": {
                        "date_of_birth": DATE,
                        "slot_id": ID,
                        "second_dose_slot_id": {
                            **ID,
                            "description": "Dose 1 of a course: dose 2's new slot.",
                        },
                    },
                }
            ),
            "responses": {
                "200": json_response(ref("Reservation"), "Moved"),
                "401": problem(
                    "The waiting room is on and the move is to another clinic: join the line."
                ),
                "404": problem("No reservation matches this code and date of birth, or no slot."),
                "409": problem(
                    "The new slot is full or closed, the booking cannot be moved in its state, "
                    "or the admission already made its booking "
                    "(`urn:fairslot:problem:admission-used`)."
                ),
                "422": _NOT_ELIGIBLE,
            },
        }
    },
    "/api/v1/reservations/{code}/cancel": {
        "post": {
            "operationId": "cancelReservation",
            "summary": "Cancel a reservation; its place goes back to the pool",
            "parameters": [_CODE],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["date_of_birth"],
                    "properties": {
                        "date_of_birth": DATE,
                        "dose_one_given_on": {
                            **DATE,
                            "description": "Dose 1 of a two-dose course: the date dose 1 was "
                            '(or will be) given elsewhere, to keep dose 2 as "dose 2 only" '
                            "(inside its window from that date). Left out, dose 2 is cancelled "
                            "too.",
                        },
                    },
                }
            ),
            "responses": {
                "200": json_response(ref("Reservation"), "Cancelled"),
                "404": problem("No reservation matches this code and date of birth."),
                "409": problem("The reservation cannot be cancelled in its current state."),
                "422": _INVALID,
            },
        }
    },
}


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``/holds/<hold_id>`` becomes ``/holds/{hold_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _routes(app: Flask) -> Iterator[tuple[str, str, str, Any]]:
    """Each API route's OpenAPI path, method, endpoint and view, read from the app."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX):
            view = app.view_functions[rule.endpoint]
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield openapi_path(rule.rule), method, rule.endpoint, view


def _rate_limited(endpoint: str, method: str) -> bool:
    limited = LIMITED_ENDPOINTS.get(endpoint)
    return endpoint in POLL_ENDPOINTS or (limited is not None and method in limited[1])


def document(app: Flask) -> dict[str, Any]:
    """Return the whole OpenAPI 3.1 document for ``app``'s API routes."""
    paths = copy.deepcopy(
        {
            **PATHS,
            **openapi_queue.PATHS,
            **opendata_openapi.PATHS,
            **openapi_clinic_systems.PATHS,
            **openapi_prereg.PATHS,
        }
    )
    for path, method, endpoint, view in _routes(app):
        operation = paths.get(path, {}).get(method.lower())
        if operation is None:
            continue  # an undocumented route: the document's test names it
        responses = operation["responses"]
        if getattr(view, GATED, False):
            # Either requirement: the token while the waiting room is on, nothing while off.
            operation["security"] = [{"admission": []}, {}]
            responses.update(openapi_queue.GATE_RESPONSES)
        if _rate_limited(endpoint, method):
            responses["429"] = TOO_MANY
        extra = {
            **SERVER_ERRORS,
            **EDGE_ERRORS,
            **(BODY_ERRORS if "requestBody" in operation else {}),
        }
        operation["responses"] = dict(sorted({**extra, **responses}.items()))
    clock = app.config.get("CLOCK") or utcnow
    whole = {
        "openapi": "3.1.0",
        "info": {
            "title": "FairSlot API",
            "version": "1.0.0",
            "description": "Find, hold and book vaccination appointments. Errors are RFC 9457 "
            "problem details (application/problem+json).",
        },
        "paths": paths,
        "components": {
            "schemas": {
                **SCHEMAS,
                **openapi_prereg.SCHEMAS,
                "QueueTicket": openapi_queue.TICKET_SCHEMA,
            },
            "headers": HEADERS,
            "securitySchemes": {
                **openapi_queue.SECURITY_SCHEMES,
                "clinicKey": openapi_clinic_systems.SECURITY_SCHEME,
            },
        },
    }
    # The dates relative to today (a search, a birth) are the server's today, in UTC.
    return exact(whole, today=clock().date(), companions=app.config["COMPANION_BOOKING"])


@bp.get("/openapi.json")
def openapi_document() -> Any:
    """Serve the OpenAPI document."""
    return document(current_app)
