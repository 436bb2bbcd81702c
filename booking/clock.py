"""The current time, replaceable per app so tests can move the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app


def utcnow() -> datetime:
    """Return the real current time in UTC."""
    return datetime.now(UTC)


def now() -> datetime:
    """Return the app's notion of now (``app.config["CLOCK"]`` when a test sets one)."""
    return now_of(current_app.config)


def now_of(config: Any) -> datetime:
    """Return the notion of now of the app with this ``config`` (outside any app context)."""
    clock = config.get("CLOCK") or utcnow
    return clock()
