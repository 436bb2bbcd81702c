"""Background work on RQ: message sending, its relay, and housekeeping.

``init_app`` attaches the queue, enqueues the messages a unit of work wrote once it has
committed (never before: a rolled-back booking leaves nothing behind), registers the CLI, and on
the embedded default in demo and development starts an in-process worker with the first request.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from booking.clock import now
from booking.db import db
from booking.jobs.queue import (
    RELAY_HORIZON,
    enqueue_message,
    get_queue,
    init_queue,
    unschedule_message,
)
from booking.models import MessageStatus
from booking.services.notices import take_for_dispatch

log = logging.getLogger(__name__)
_EMBEDDED = "fairslot.jobs.embedded"
_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Attach the job queue, the after-commit dispatch, the CLI and the embedded worker."""
    init_queue(app)
    db.on_commit(app, dispatch_after_commit)
    from booking.jobs.cli import register

    register(app)
    if embedded_worker_wanted(app):
        # Lazily: commands such as `flask migrate` must not start a worker thread.
        app.before_request(_ensure_embedded_worker)
    if app.config["FAIRSLOT_ENV"] == "production":
        from booking.messages.backends import backend_for

        for channel in ("email", "sms"):
            if backend_for(app.config, channel) is None:
                log.warning("no %s delivery is configured: those messages will fail", channel)


def embedded_worker_wanted(app: Flask) -> bool:
    """In-process worker: on the embedded default in demo/development, or when a test asks."""
    asked = app.config.get("INPROCESS_WORKER")
    if asked is not None:
        return bool(asked)
    return not app.config.get("REDIS_URL") and app.config["FAIRSLOT_ENV"] in (
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


def dispatch_after_commit(session: Session) -> None:
    """Hand the messages the committed unit of work wrote to the queue, by id."""
    messages = take_for_dispatch(session)
    if not messages:
        return
    queue, moment = get_queue(), now()
    soon = moment + RELAY_HORIZON  # later ones are the relay's to schedule, in time
    try:
        # One MULTI/EXEC for all of them: a commit's messages cost one round trip, not several
        # each, and they reach Redis together or (for the relay) not at all.
        with queue.connection.pipeline() as pipe:
            pipe.multi()  # before any command: RQ's enqueue would otherwise call it mid-way
            for message in messages:
                if message.status == MessageStatus.CANCELLED:
                    unschedule_message(queue, message.id, pipeline=pipe)
                elif message.status == MessageStatus.QUEUED and message.next_attempt_at <= soon:
                    enqueue_message(
                        queue, message.id, due_at=message.next_attempt_at, now=moment, pipeline=pipe
                    )
            pipe.execute()
    except Exception as exc:  # noqa: BLE001 - whatever it was, the relay recovers
        # Redis down or refusing: the rows are committed, and the relay will enqueue them.
        log.warning("could not enqueue %d messages now (%s); the relay will", len(messages), exc)
    embedded = current_app.extensions.get(_EMBEDDED)
    if embedded is not None:
        embedded.wake()
