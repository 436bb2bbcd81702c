"""Where a "next" parameter may send people: only back to a page of ours."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for


def safe_next(raw: str | None) -> str:
    """Only ever send people back to a page of ours (no open redirects)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return url_for("resident.index")
    parts = urlsplit(raw)
    return parts.path + (f"?{parts.query}" if parts.query else "")
