"""Measure the booking path on the server: each booking request's latency and errors, in Redis.

The admission controller (``admission.control``) follows these figures, so only booking
requests count: the resident pages and the API's booking routes, not the waiting room, its
polls, staff consoles or static files. Behind the shipped nginx (``FAIRSLOT_PROXY_COUNT`` and
``FAIRSLOT_TRUST_REQUEST_START`` set), the time the request waited for a worker counts too:
nginx stamps ``X-Request-Start``, its own value replacing any a client sent. Both settings are
needed because a client that could send its own stamp could make booking look slow and so
slow admission for everyone. A stamp that is malformed or outside the last minute is ignored.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, g, request
from redis.exceptions import RedisError

from admission import health
from booking.clock import now
from booking.web.queue_state import get_queue

log = logging.getLogger(__name__)
MEASURED_BLUEPRINTS = frozenset({"resident", "api"})
# The API's waiting room and its description are not the booking path.
NOT_MEASURED = frozenset({"api.create_ticket", "api.get_ticket", "api.openapi_document"})
MAX_QUEUED_SECONDS = 60.0


def is_booking_request() -> bool:
    """Whether this request is on the booking path the controller watches."""
    endpoint = request.endpoint or ""
    return request.blueprint in MEASURED_BLUEPRINTS and endpoint not in NOT_MEASURED


def queued_seconds(header: str | None, received_at: float) -> float:
    """How long the proxy says the request waited before a worker took it (0 if not known)."""
    if not header:
        return 0.0
    raw = header.removeprefix("t=").strip()
    try:
        stamped = float(raw)
    except ValueError:
        return 0.0
    if raw.isdigit() and len(raw) > 10:
        stamped /= 1_000_000 if len(raw) > 13 else 1000  # microseconds or milliseconds
    waited = received_at - stamped
    return waited if 0.0 <= waited <= MAX_QUEUED_SECONDS else 0.0


def _measuring() -> bool:
    control = get_queue().control
    return control is not None and control.config.enabled


def _start() -> None:
    # Only the controller reads the window: with autotune off, booking requests pay nothing.
    if not is_booking_request() or not _measuring():
        return
    queued = 0.0
    if current_app.config["PROXY_COUNT"] and current_app.config["TRUST_REQUEST_START"]:
        queued = queued_seconds(request.headers.get("X-Request-Start"), time.time())
    g.booking_started = time.perf_counter() - queued


def _finish(response: Response) -> Response:
    started = g.pop("booking_started", None)
    if started is None:
        return response
    latency_ms = (time.perf_counter() - started) * 1000
    queue = get_queue()
    try:
        health.record(
            queue.redis,
            queue.prefix,
            ended_at=now().timestamp(),
            latency_ms=latency_ms,
            error=response.status_code >= 500,
            target_ms=current_app.config["QUEUE_TARGET_P99_MS"],
        )
    except RedisError:
        log.debug("Redis unreachable: a booking request was not measured")
    return response


def init_app(app: Flask) -> None:
    """Time every booking request from its start (or the proxy's stamp) to its response."""
    app.before_request(_start)
    app.after_request(_finish)
