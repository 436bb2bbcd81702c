"""Prometheus metrics for operators: the line, admissions and remaining inventory."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Response, abort, current_app, request
from redis.exceptions import RedisError

from admission.settings import QueueMode
from booking.clock import now
from booking.waiting import bp
from booking.web.queue_state import get_queue, refresh_inventory


def _line(name: str, value: float | int | None, help_text: str, labels: str = "") -> list[str]:
    out = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    if value is not None:
        out.append(f"{name}{labels} {value}")
    return out


@bp.get("/metrics")
def metrics() -> Any:
    """The waiting room's figures in the Prometheus text format."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token and current_app.config["FAIRSLOT_ENV"] == "production":
        abort(404)  # the figures are for operators: production shows them only with the token
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            abort(401)
    lines: list[str] = []
    try:
        refresh_inventory()
        queue = get_queue()
        stats = queue.stats(now=now().timestamp())
        rate = queue.admit_rate(queue.settings(), now().timestamp())
        up = 1
    except RedisError:
        stats, rate = None, None
        up = 0
    lines += _line("fairslot_queue_redis_up", up, "1 if the queue's Redis answered.")
    if stats is not None:
        lines += _line("fairslot_queue_waiting", stats.waiting, "People waiting in line.")
        lines += _line("fairslot_queue_active", stats.active, "Admitted users active now.")
        lines += _line(
            "fairslot_queue_admitted_last_minute",
            stats.admitted_last_minute,
            "Admissions in the last 60 seconds.",
        )
        lines += _line(
            "fairslot_queue_admit_per_minute",
            rate,
            "Admissions per minute in force (the controller's with autotune on, or a pin).",
        )
        lines += [
            "# HELP fairslot_queue_admitted_total Admissions since the queue was created.",
            "# TYPE fairslot_queue_admitted_total counter",
            f"fairslot_queue_admitted_total {stats.admitted_total}",
        ]
        lines += _line(
            "fairslot_queue_eta_clear_seconds",
            stats.eta_clear_seconds,
            "Estimated seconds until everyone now waiting is admitted.",
        )
        lines += _line(
            "fairslot_inventory_remaining",
            stats.remaining,
            "Appointments still free in the booking horizon.",
        )
        lines += [
            "# HELP fairslot_queue_mode The queue mode (1 for the current one).",
            "# TYPE fairslot_queue_mode gauge",
        ]
        lines += [f'fairslot_queue_mode{{mode="{m}"}} {int(m == stats.mode)}' for m in QueueMode]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
