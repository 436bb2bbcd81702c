"""Liveness and readiness probes for load balancers and orchestrators, the site icon, and
where to report a vulnerability (security.txt)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app
from sqlalchemy import text

from booking.clock import now
from booking.db import db
from booking.redis_client import get_redis

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up and serving requests."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    """Ready only if the database and Redis both answer; otherwise 503 naming what failed."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    failing = [name for name, state in checks.items() if state != "ok"]
    body: dict[str, Any] = {"status": "ok" if not failing else "unavailable", "checks": checks}
    if failing:
        body["failing"] = failing
        return body, 503
    return body


@bp.get("/favicon.ico")
def favicon() -> Any:
    """The site icon where browsers and crawlers look for it first (pages link the SVG)."""
    return current_app.send_static_file("favicon.ico")


# RFC 9116 wants the file renewed within a year; served fresh, it always is.
SECURITY_TXT_DAYS = 180


@bp.get("/.well-known/security.txt")
def security_txt() -> Any:
    """Where to report a vulnerability (RFC 9116), from FAIRSLOT_SECURITY_CONTACT."""
    expires = (now() + timedelta(days=SECURITY_TXT_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    public = current_app.config["PUBLIC_URL"].rstrip("/")
    fields = {
        "Contact": current_app.config["SECURITY_CONTACT"],
        "Expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Preferred-Languages": "en, es",
        "Canonical": f"{public}/.well-known/security.txt",
    }
    body = "".join(f"{name}: {value}\n" for name, value in fields.items())
    return Response(body, mimetype="text/plain")
