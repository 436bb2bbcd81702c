"""The in-process worker of the embedded default: when it runs, starting, stopping, waking it.

With no FAIRSLOT_REDIS_URL, Redis is fakeredis inside the web process, so no separate worker
can reach it: in demo and development the web process runs an ``EmbeddedWorker`` thread
(``booking.jobs.worker``), started with the first request.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app

from booking.redis_client import uses_real_redis

_EMBEDDED = "fairslot.jobs.embedded"
_LOCK = threading.Lock()


def init_embedded_worker(app: Flask) -> None:
    """Start the in-process worker with the app's first request, if the app wants one."""
    if embedded_worker_wanted(app):
        # Lazily: commands such as `flask migrate` must not start a worker thread.
        app.before_request(_ensure_embedded_worker)


def embedded_worker_wanted(app: Flask) -> bool:
    """In-process worker: on the embedded default in demo/development, or when a test asks."""
    asked = app.config.get("INPROCESS_WORKER")
    if asked is not None:
        return bool(asked)
    return not uses_real_redis(app.config) and app.config["FAIRSLOT_ENV"] in (
        "demo",
        "development",
    )


def _ensure_embedded_worker() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    start_embedded_worker(app)


def start_embedded_worker(app: Flask) -> Any:
    """Start the app's in-process worker thread if it is not running; return it."""
    from booking.jobs.worker import EmbeddedWorker

    with _LOCK:
        worker = app.extensions.get(_EMBEDDED)
        if worker is None or not worker.alive:
            worker = app.extensions[_EMBEDDED] = EmbeddedWorker(app).start()
    return worker


def stop_embedded_worker(app: Flask) -> None:
    """Stop the app's in-process worker thread, if any (tests)."""
    worker = app.extensions.pop(_EMBEDDED, None)
    if worker is not None:
        worker.stop()


def wake_embedded_worker(app: Flask) -> None:
    """Have the app's in-process worker, if it runs one, look for work now."""
    embedded = app.extensions.get(_EMBEDDED)
    if embedded is not None:
        embedded.wake()
