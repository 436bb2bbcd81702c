"""The request id: one per request, carried by every log line of it and every message it writes.

Taken from the ``X-Request-ID`` header nginx sets (``$request_id``, or the client's own when it
passes one through) if it looks like an id, else made here. Held in a context variable, so the
services can stamp what they write without knowing about Flask, and the worker sending a message
logs under the id of the request that wrote it.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_current: ContextVar[str | None] = ContextVar("fairslot_request_id", default=None)


def accept_or_make(presented: str | None) -> str:
    """The presented id if it is a plausible one (8-64 of ``A-Za-z0-9._-``), else a new one."""
    if presented and _VALID.fullmatch(presented):
        return presented
    return secrets.token_hex(16)


def current() -> str | None:
    """The id of the request (or the job's message) being handled, if any."""
    return _current.get()


def bind(value: str | None) -> Token[str | None]:
    """Make ``value`` the current id; ``reset`` with the token puts back the one before."""
    return _current.set(value)


def reset(token: Token[str | None]) -> None:
    """Undo a ``bind``."""
    _current.reset(token)
