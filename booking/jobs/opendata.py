"""Rebuilding the published open data in the workers, so no web request waits for it."""

from __future__ import annotations

from flask import current_app

from booking.clock import now
from booking.db import db
from booking.opendata.publish import feed_of, publication_builds
from booking.opendata.store import WORKER_LOCK_SECONDS, Publisher
from booking.redis_client import get_redis


def rebuild_open_data() -> list[str]:
    """Rebuild each stale publication; return the names looked at.

    It first tells the web processes that workers rebuild (for three housekeeping periods, renewed
    by every run), so from then on they serve only the stored copy.
    """
    config = current_app.config
    publisher = Publisher(
        get_redis(), config["OPENDATA_REFRESH_SECONDS"], lock_seconds=WORKER_LOCK_SECONDS
    )
    alive_for = 3 * int(config["HOUSEKEEPING_SECONDS"])
    publisher.mark_rebuilder(alive_for)
    builds = publication_builds(db.session, now=now(), feed=feed_of(config))
    try:
        for name, build in builds.items():
            publisher.refresh(name, now(), build)
    finally:
        db.session.rollback()  # read only; end the snapshot
    publisher.mark_rebuilder(alive_for)  # a rebuild may have taken a good part of it
    return list(builds)
