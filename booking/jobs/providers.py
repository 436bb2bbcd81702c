"""The provider finder's jobs: schedule each due feed's fetch, and fetch one feed.

Each feed is fetched by a job of its own, so a slow feed holds up no other and a feed's
failure is recorded on that feed alone. No transaction is open while a provider answers.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session

from booking.clock import now
from booking.db import db
from booking.jobs.queue import get_queue
from booking.models import ProviderFeed
from booking.services import provider_feeds
from booking.services.feed_http import Budget, FeedRefused
from booking.services.feed_reader import read_feed

log = logging.getLogger(__name__)
# Recorded when the fault is FairSlot's, not the feed's (the details are in the log).
OUR_FAULT = "the feed could not be read or kept because of an error on FairSlot's side (logged)"


def schedule_provider_feeds() -> int:
    """Enqueue a fetch of every active feed not checked within the period; return how many."""
    config = current_app.config

    def claim(session: Session) -> list[int]:
        due = provider_feeds.due_feeds(
            session, now=now(), every_seconds=config["PROVIDER_FEED_SECONDS"]
        )
        provider_feeds.mark_checked(session, due, now=now())  # not due again while it runs
        return due

    due = db.transaction(claim)
    queue = get_queue()
    for feed_id in due:
        queue.enqueue(
            "booking.jobs.providers.fetch_provider_feed",
            feed_id,
            job_id=f"provider-feed-{feed_id}",
            job_timeout=int(config["PROVIDER_FEED_TIMEOUT_SECONDS"]) + 60,
            result_ttl=600,
        )
    return len(due)


def fetch_provider_feed(feed_id: int) -> str:
    """Fetch one feed and keep what it gave: ``accepted``, ``unchanged``, ``refused``."""
    config = current_app.config
    feed = db.session.get(ProviderFeed, feed_id)
    if feed is None or not feed.active:
        db.session.rollback()
        return "stopped"
    url, validators = feed.manifest_url, dict(feed.validators or {})
    db.session.rollback()  # nothing held while the provider answers
    budget = Budget(
        seconds=float(config["PROVIDER_FEED_TIMEOUT_SECONDS"]),
        max_bytes=int(config["PROVIDER_FEED_MAX_MB"] * 1_000_000),
        # Production fetches from the public internet only: a feed address must not reach
        # the state's own network (SSRF), unless the whole deployment is a closed network.
        public_only=config["FAIRSLOT_ENV"] == "production" and not config["PRIVATE_NETWORK"],
    )
    try:
        reading = read_feed(
            url,
            validators=validators,
            budget=budget,
            now=now(),
            horizon_days=config["BOOKING_DAYS"],
        )
        snapshot = reading.snapshot
        if snapshot is None:
            db.transaction(lambda s: provider_feeds.keep_unchanged(s, feed_id, now=now()))
            return "unchanged"
        db.transaction(
            lambda s: provider_feeds.keep_snapshot(
                s, feed_id, snapshot, reading.validators, now=now()
            )
        )
        return "accepted"
    except FeedRefused as refused:
        problem = str(refused)
    except Exception:  # one feed's surprise must not stop the others, nor hide from admins
        log.exception("provider feed %s: fetch failed", feed_id)
        db.session.rollback()
        problem = OUR_FAULT
    log.warning("provider feed %s refused: %s", feed_id, problem)
    db.transaction(lambda s: provider_feeds.keep_refusal(s, feed_id, problem, now=now()))
    return "refused"
