"""Per-client rate limits (flask-limiter), kept in Redis so every app process shares them.

When Redis is unreachable the limiter falls back to per-process memory counters: limits stay
in force (each process counts on its own) instead of failing every request or letting all
through. The table below is the one place that says which endpoint is limited by what, but for the
waiting room's status polls: those are counted inside the admission queue's POLL script
(``poll_limit``), so the hottest endpoint costs one Redis round trip, not two.
"""

from __future__ import annotations

import time
from functools import lru_cache, partial
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from admission.queue import PollLimit
from booking.redis_client import connect, redis_target

# endpoint -> (app.config key holding its limit string, methods it applies to)
LIMITED_ENDPOINTS = {
    "api.get_reservation": ("LOOKUP_RATE_LIMIT", ["GET"]),
    "api.cancel_reservation": ("LOOKUP_RATE_LIMIT", ["POST"]),
    "api.reschedule_reservation": ("LOOKUP_RATE_LIMIT", ["POST"]),
    "resident.lookup": ("LOOKUP_RATE_LIMIT", ["POST"]),
    "api.create_hold": ("HOLD_RATE_LIMIT", ["POST"]),
    "resident.hold_slot": ("HOLD_RATE_LIMIT", ["POST"]),
    "api.create_ticket": ("QUEUE_JOIN_RATE_LIMIT", ["POST"]),
    "waiting.join": ("QUEUE_JOIN_RATE_LIMIT", ["POST"]),
    "staff.sign_in": ("STAFF_SIGNIN_RATE_LIMIT", ["POST"]),
    "opendata.bulk_publish": ("OPENDATA_RATE_LIMIT", ["GET"]),
    "opendata.bulk_file": ("OPENDATA_RATE_LIMIT", ["GET"]),
    "opendata.availability_summary": ("OPENDATA_RATE_LIMIT", ["GET"]),
    "staff.second_factor": ("STAFF_SIGNIN_RATE_LIMIT", ["POST"]),
    "agent.lookup": ("AGENT_LOOKUP_RATE_LIMIT", ["POST"]),
    "api.clinic_systems_batch": ("CLINIC_API_RATE_LIMIT", ["POST"]),
    "api.clinic_systems_roster": ("CLINIC_API_RATE_LIMIT", ["GET"]),
    "agent.find_preregistration": ("AGENT_LOOKUP_RATE_LIMIT", ["POST"]),
    "api.create_preregistration": ("QUEUE_JOIN_RATE_LIMIT", ["POST"]),
    "resident.preregister": ("QUEUE_JOIN_RATE_LIMIT", ["POST"]),
    "api.get_preregistration": ("LOOKUP_RATE_LIMIT", ["GET"]),
    "resident.prereg_link": ("LOOKUP_RATE_LIMIT", ["GET"]),
}

# Counted by the admission queue's POLL script with ``poll_limit()`` (QUEUE_POLL_RATE_LIMIT).
POLL_ENDPOINTS = frozenset({"api.get_ticket", "waiting.status", "waiting.status_json"})


def client_key() -> str:
    """Whose bucket a request counts in: the API key, the staff member, else the address.

    A 2-1-1 call center puts many agents behind one address; each agent gets their own bucket.
    A clinic system's key (checked before the limit) has its own, wherever it calls from.
    """
    key = g.get("api_key")
    if key is not None:
        return f"clinic_api_key:{key.id}"
    staff = g.get("staff")
    return f"staff:{staff.id}" if staff is not None else get_remote_address()


@lru_cache(maxsize=8)
def _windows(limit: str) -> tuple[tuple[int, int], ...]:
    """``"120 per minute; 10 per second"`` as (amount, seconds) pairs; ValueError if malformed."""
    return tuple((item.amount, item.get_expiry()) for item in parse_many(limit)) if limit else ()


def poll_limit() -> PollLimit:
    """This client's waiting-room poll allowance (QUEUE_POLL_RATE_LIMIT), for the POLL script."""
    return poll_limit_of(current_app.config, client_key())


def poll_limit_of(config: Any, client: str) -> PollLimit:
    """The poll allowance of ``client`` (a ``client_key``) under the app's ``config``."""
    return PollLimit(client, _windows(config["QUEUE_POLL_RATE_LIMIT"] or ""))


def init_app(app: Flask) -> Limiter:
    """Create the app's limiter and apply the limits in LIMITED_ENDPOINTS."""
    try:
        _windows(app.config.get("QUEUE_POLL_RATE_LIMIT") or "")
    except ValueError as exc:
        raise RuntimeError(f"FAIRSLOT_QUEUE_POLL_RATE_LIMIT is not a rate limit: {exc}") from None
    target = redis_target(app.config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", target.limiter_uri() if target else "memory://")
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "fairslot")
    # X-RateLimit-* headers on every answer would cost two more Redis round trips each, which is
    # most of a queue-status poll's budget; a refused client still gets Retry-After (below).
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    options: dict[str, object] = {"socket_timeout": 1}
    if target is not None and target.sentinels:
        # The sentinel storage makes its own clients, following the primary on failover.
        options.update(target.limiter_options(), socket_connect_timeout=1)
    elif target is not None:
        # redis-py's default pool raises past 100 connections; a blocking pool waits instead,
        # so a burst of threads gets rate-limited, not a 500.
        options["connection_pool"] = connect(
            target, max_connections=100, timeout=2, socket_timeout=1, socket_connect_timeout=1
        ).connection_pool
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)
    limiter = Limiter(key_func=client_key, app=app)
    for endpoint, (key, methods) in LIMITED_ENDPOINTS.items():
        view = app.view_functions.get(endpoint)
        if view is None:
            raise RuntimeError(f"rate limit configured for unknown endpoint {endpoint}")
        limit = limiter.limit(partial(app.config.__getitem__, key), methods=methods)
        wrapped: Any = limit(view)  # the same view, rate-limited (typed loosely by the library)
        app.view_functions[endpoint] = wrapped
    app.extensions["fairslot.limiter"] = limiter

    @limiter.request_filter
    def _counted_by_the_queue() -> bool:
        # Status polls are limited inside the POLL script; flask-limiter's own pass over them,
        # even with no limit to check, took about an eighth of a poll's profiled time.
        return request.endpoint in POLL_ENDPOINTS

    @app.after_request
    def _retry_after(response: Response) -> Response:
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(_seconds_until_reset(limiter))
        return response

    return limiter


def _seconds_until_reset(limiter: Limiter) -> int:
    """When the breached limit's window resets (its whole length if the storage cannot say)."""
    current = limiter.current_limit
    if current is None:
        return 60
    try:
        return max(1, int(current.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - storage unreachable: the window's length is a safe answer
        return max(1, int(current.limit.get_expiry()))
