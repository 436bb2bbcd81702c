"""Helpers shared by the API views: reading JSON bodies and query parameters."""

from __future__ import annotations

from typing import Any

from flask import request

from booking.services.errors import DomainError, NotFound
from booking.services.text import N_

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database; larger ones cannot exist


class BadRequest(DomainError):
    """The request could not be read at all (not JSON, not an object)."""

    status = 400
    title = N_("Bad request")


class UnsupportedMediaType(DomainError):
    """The body is not JSON."""

    status = 415
    title = N_("Unsupported media type")


def json_object(*, optional: bool = False) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise a 4xx problem."""
    if not request.data and optional:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType(N_("Send the body as application/json."))
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly deep nesting, e.g. 60,000 "["
        body = None
    if not isinstance(body, dict):
        raise BadRequest(N_("The body must be a JSON object."))
    return body


def is_json_integer(value: object) -> bool:
    """Whether a decoded JSON value is an integer (7 or 7.0: JSON has one kind of number)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def path_id(raw: str, missing: str) -> int:
    """An id from the URL path; anything that cannot be one is the unknown thing (404)."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not 1 <= int(raw) <= MAX_ID:
        raise NotFound(missing)
    return int(raw)


def idempotency_key() -> str | None:
    """Return the Idempotency-Key header if sent, refusing absurd ones."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise BadRequest(N_("Idempotency-Key must be 1 to 255 characters."))
    return key
