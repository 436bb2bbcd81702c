"""The current time, replaceable per app so tests can move the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app


def utcnow() -> datetime:
    """Return the real current time in UTC."""
    return datetime.now(UTC)


def now() -> datetime:
    """Return the app's notion of now (``app.config["CLOCK"]`` when a test sets one)."""
    clock = current_app.config.get("CLOCK") or utcnow
    return clock()
