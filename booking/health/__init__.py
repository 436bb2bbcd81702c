"""Liveness and readiness probes for load balancers and orchestrators, and the site icon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from sqlalchemy import text

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
