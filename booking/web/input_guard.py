"""The one check every request's text passes first: no control characters, anywhere.

NUL and the other C0/C1 control characters (tab, line feed and carriage return excepted) and
lone surrogates never belong in anything a person types. PostgreSQL refuses NUL outright ("text
fields cannot contain NUL"), so one reaching a query or an INSERT was a 500. Rather than each
form and parser remembering it, every query-string value, form field, JSON string (keys too),
URL segment and stored header is checked here, before the view runs: the API answers a 400
problem naming the fields, a page a 400 that says what to remove. Nothing has been read or
written by then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, request

from booking.services.errors import DomainError
from booking.services.text import N_

# C0 controls but \t \n \r, DEL, C1 controls, and UTF-16 surrogates (only JSON's \ud800 escapes
# can produce one; no database or encoder takes them).
_UNUSABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Headers whose value the app keeps (the API's replay key is stored with the hold).
STORED_HEADERS = ("Idempotency-Key",)
_MAX_FIELDS = 20  # name this many fields at most in one answer


class UnusableCharacters(DomainError):
    """The request carries control characters; ``errors`` names where."""

    status = 400
    title = N_("Bad request")


def has_unusable(text: str) -> bool:
    """Whether ``text`` holds a character no field accepts."""
    return _UNUSABLE.search(text) is not None


def _json_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every (pointer, string) in a decoded JSON document, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _json_strings(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{path}/{index}" if path else str(index))


def _request_strings() -> Iterator[tuple[str, str]]:
    """Every piece of text in the request that a view may read, with the name it goes by."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            yield name, value
    for source in (request.args, request.form):
        for name, values in source.lists():
            yield name, name
            for value in values:
                yield name, value
    for header in STORED_HEADERS:
        if header in request.headers:
            yield header, request.headers[header]
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # absurdly deep: the view's own reader refuses it
            body = None
        yield from _json_strings(body, "")


def check_request() -> None:
    """Refuse the request if any of its text holds a control character (before the view)."""
    bad: dict[str, str] = {}
    for name, text in _request_strings():
        if has_unusable(text) and len(bad) < _MAX_FIELDS:
            bad[_printable(name)] = N_("Remove the control characters (such as NUL).")
    if bad:
        raise UnusableCharacters(
            N_(
                "Part of what was sent contains characters we cannot accept (control characters "
                "such as NUL). Go back, remove them and try again."
            ),
            errors=bad,
        )


def _printable(name: str) -> str:
    # The field name itself may be the hostile part; never echo a control character back.
    return _UNUSABLE.sub("\ufffd", name)[:60]


def init_app(app: Flask) -> None:
    """Check every request before its view runs (static files and health checks included)."""
    app.before_request(check_request)
