"""Background work on RQ: message sending, its relay, and housekeeping.

``init_app`` attaches the queue, the after-commit dispatch (``booking.jobs.dispatch``), the
``worker`` and ``messages`` commands (``booking.jobs.cli``) and, on the embedded default in demo
and development, the in-process worker (``booking.jobs.embedded``).
"""

from __future__ import annotations

import logging

from flask import Flask

from booking.db import db
from booking.jobs.cli import register
from booking.jobs.dispatch import dispatch_after_commit
from booking.jobs.embedded import init_embedded_worker
from booking.jobs.queue import init_queue

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Attach the job queue, the after-commit dispatch, the CLI and the embedded worker."""
    init_queue(app)
    db.on_commit(app, dispatch_after_commit)
    register(app)
    init_embedded_worker(app)
    if app.config["FAIRSLOT_ENV"] == "production":
        from booking.messages.backends import backend_for

        for channel in ("email", "sms"):
            if backend_for(app.config, channel) is None:
                log.warning("no %s delivery is configured: those messages will fail", channel)
