"""The limits the server enforces on what it is sent, written into the OpenAPI document.

``booking.api.openapi.document`` hands its finished document to ``exact``, which adds what a
JSON Schema can say of them: no control character in any text (booking/web/input_guard.py
refuses it at the edge, JSON keys too), the years a date may name (and the dates relative to
today: a search within a year of it, a birth not after it), and the links that lead from one
operation's answer to the next (which clients and stateful testers follow).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from booking.services.validation import MAX_YEAR, MIN_YEAR

# What input_guard refuses, as an ECMA-262 character class: C0 controls but tab, line feed and
# carriage return, DEL and the C1 controls. (Lone surrogates cannot be encoded at all.)
CONTROL = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"
TEXT_PATTERN = f"^[^{CONTROL}]*$"
_EXTRA_REF = "#/components/schemas/Extra"
# Whatever else a body may carry: ignored, but its text is checked like the rest.
EXTRA: dict[str, Any] = {
    "description": "A field the operation does not read: ignored, yet no text in it (keys "
    "included) may hold a control character.",
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", "pattern": TEXT_PATTERN},
        {"type": "array", "items": {"$ref": _EXTRA_REF}},
        {
            "type": "object",
            "propertyNames": {"pattern": TEXT_PATTERN},
            "additionalProperties": {"$ref": _EXTRA_REF},
        },
    ],
}
_ANY_MONTH_DAY = "(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"


def date_pattern(first: date, last: date) -> str:
    """A pattern matching the YYYY-MM-DD dates from ``first`` to ``last`` (with format: date)."""
    parts: list[str] = []
    whole: list[str] = []
    for year in range(first.year, last.year + 1):
        low = max(first, date(year, 1, 1))
        high = min(last, date(year, 12, 31))
        if (low.month, low.day, high.month, high.day) == (1, 1, 12, 31):
            whole.append(str(year))
            continue
        for month in range(low.month, high.month + 1):
            start = low.day if month == low.month else 1
            end = high.day if month == high.month else 31
            days = "|".join(f"{day:02d}" for day in range(start, end + 1))
            parts.append(f"{year}-{month:02d}-({days})")
    if whole:
        parts.append(f"({'|'.join(whole)})-{_ANY_MONTH_DAY}")
    return f"^({'|'.join(parts)})$"


def _dates(today: date) -> dict[str, dict[str, Any]]:
    """The date schemas by what the server accepts (booking.services.validation)."""
    search_days = timedelta(days=366)  # booking.web.search_args.MAX_DAYS_AWAY
    ranges = {
        "any": (date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31), f"From {MIN_YEAR} to {MAX_YEAR}."),
        "birth": (date(MIN_YEAR, 1, 1), today, f"From {MIN_YEAR}, and not in the future."),
        "search": (today - search_days, today + search_days, "Within a year of today."),
    }
    return {
        kind: {
            "type": "string",
            "format": "date",
            "pattern": date_pattern(first, last),
            "description": words,
        }
        for kind, (first, last, words) in ranges.items()
    }


# Optional body fields the server reads null as left out (the holds, courses and queue views).
NULL_IS_LEFT_OUT = {
    "createHold": ("date_of_birth",),
    "confirmHold": (
        "phone",
        "email",
        "eligibility_attested",
        "second_dose_slot_id",
        "prior_dose_date",
        "has_condition",
    ),
    "rescheduleReservation": ("second_dose_slot_id",),
    "cancelReservation": ("dose_one_given_on",),
    "createQueueTicket": ("hcaptcha_response", "has_condition"),
}


def _nullable(schema: dict[str, Any]) -> None:
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    schema["type"] = [*kinds, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    schema["description"] = f"{schema.get('description', '')} Null: as if left out.".strip()


# Which date each operation's parameter or body field is, when it is not just "any date".
_BIRTH_FIELDS = {
    ("createHold", "date_of_birth"),
    ("confirmHold", "date_of_birth"),
    ("createQueueTicket", "date_of_birth"),
    ("createPreregistration", "date_of_birth"),
}
_SEARCH_FIELDS = {("listClinics", "date"), ("listSlots", "date")}


def _tighten(
    schema: Any, operation: str, field: str, dates: dict[str, Any], schemas: dict[str, Any]
) -> None:
    """Add the text and date limits to a request schema, in place (components included)."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name != "Extra":  # already exact, and recursive
            _tighten(schemas[name], operation, field, dates, schemas)
        return
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    if schema.get("format") == "date" and "pattern" not in schema:
        key = (operation, field)
        which = "birth" if key in _BIRTH_FIELDS else "search" if key in _SEARCH_FIELDS else "any"
        description = schema.get("description")
        schema.update(dates[which])
        if description:
            schema["description"] = f"{dates[which]['description']} {description}"
    elif "string" in kinds and "enum" not in schema and "pattern" not in schema:
        schema["pattern"] = TEXT_PATTERN
    if "object" in kinds:
        schema.setdefault("propertyNames", {"pattern": TEXT_PATTERN})
        schema.setdefault("additionalProperties", {"$ref": _EXTRA_REF})
        for name, item in schema.get("properties", {}).items():
            _tighten(item, operation, name, dates, schemas)
    if "array" in kinds:
        _tighten(schema.get("items"), operation, field, dates, schemas)
    for combined in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(combined, []):
            _tighten(part, operation, field, dates, schemas)


def exact(document: dict[str, Any], *, today: date, companions: bool) -> dict[str, Any]:
    """Write the server's input limits and the operations' links into ``document``."""
    # A copy with nothing shared: the builder's deep copy keeps one DATE dict for every date,
    # and each date gets a pattern of its own here.
    document = json.loads(json.dumps(document))
    dates = _dates(today)
    schemas = document["components"]["schemas"]
    schemas["Extra"] = EXTRA
    if not companions:
        companion = schemas["Person"]["properties"]["companion"]
        companion["enum"] = [False]
        companion["description"] += " Off on this server: only false."
    for item in document["paths"].values():
        for operation in item.values():
            name = operation["operationId"]
            for parameter in operation.get("parameters", []):
                _tighten(parameter["schema"], name, parameter["name"], dates, schemas)
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                schema = media["schema"]
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
                _tighten(schema, name, "", dates, schemas)
                for field in NULL_IS_LEFT_OUT.get(name, ()):
                    _nullable(schema["properties"][field])
            for status, links in LINKS.get(name, {}).items():
                operation["responses"][status]["links"] = links
    return document


def _link(operation_id: str, description: str, **values: str) -> dict[str, Any]:
    parameters = {k: v for k, v in values.items() if not k.startswith("body_")}
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = parameters
    body = {k.removeprefix("body_"): v for k, v in values.items() if k.startswith("body_")}
    if body:
        link["requestBody"] = body
    return link


# How one answer leads to the next call: search, slots, hold, confirm, look up, move, cancel.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "listClinics": {
        "200": {
            "slots": _link(
                "listSlots",
                "The first clinic's slots on the searched day.",
                clinic_id="$response.body#/clinics/0/id",
                date="$request.query.date",
            )
        }
    },
    "listSlots": {
        "200": {
            "hold": _link(
                "createHold", "Hold the first slot.", body_slot_id="$response.body#/slots/0/id"
            ),
            "secondDose": _link(
                "listSecondDoseSlots",
                "Dose 2's times for the first slot.",
                slot_id="$response.body#/slots/0/id",
            ),
        }
    },
    "createHold": {
        "201": {
            "confirm": _link("confirmHold", "Confirm the hold.", hold_id="$response.body#/hold_id"),
            "release": _link("releaseHold", "Release the hold.", hold_id="$response.body#/hold_id"),
        }
    },
    "confirmHold": {
        "201": {
            "lookUp": _link(
                "getReservation",
                "Look the booking up.",
                code="$response.body#/confirmation_code",
                date_of_birth="$request.body#/date_of_birth",
            ),
            "cancel": _link(
                "cancelReservation",
                "Cancel the booking.",
                code="$response.body#/confirmation_code",
                body_date_of_birth="$request.body#/date_of_birth",
            ),
            "move": _link(
                "rescheduleReservation",
                "Move the booking (to its own slot, or another).",
                code="$response.body#/confirmation_code",
                body_date_of_birth="$request.body#/date_of_birth",
                body_slot_id="$response.body#/reservation/slot_id",
            ),
        }
    },
    "createQueueTicket": {
        "201": {
            "poll": _link(
                "getQueueTicket", "Where the ticket stands.", ticket="$response.body#/ticket"
            )
        }
    },
}
