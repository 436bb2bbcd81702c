"""The jobs. Each runs inside its own app context (the worker pushes it) and commits its own work.

``send_message`` is the sender; the others are housekeeping that every worker schedules
periodically (``booking.jobs.worker``): the outbox relay, the expired-hold sweep, advancing
the waiting room, scheduling the fetch of other providers' feeds (booking.jobs.providers)
and rebuilding the open data (booking.jobs.opendata).
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from booking import correlation
from booking.clock import now
from booking.db import db
from booking.jobs.handoff import drain
from booking.jobs.queue import LIVE, RELAY_HORIZON, enqueue_message, get_queue, job_states
from booking.messages.backends import DeliveryError, deliver
from booking.messages.compose import render_outbox_message
from booking.messages.render import public_host
from booking.models import OutboxMessage
from booking.services import outbox

log = logging.getLogger(__name__)
RELAY_MAX_ROWS = 5000
SWEEP_MAX_BATCHES = 20


class RetryLater(Exception):
    """Raised so the job queue runs the send again after its backoff (the attempt is recorded)."""


def send_message(message_id: int) -> str:
    """Send one outbox message, at most once: claim, deliver, record (see services.outbox)."""
    token = correlation.bind(None)  # _deliver binds the id of the request that wrote it
    try:
        return _send(message_id)
    finally:
        correlation.reset(token)


def _send(message_id: int) -> str:
    config = current_app.config
    claim = db.transaction(
        lambda s: outbox.claim(
            s, message_id, now=now(), lease_seconds=config["MESSAGE_LEASE_SECONDS"]
        )
    )
    if claim.action != "send":
        # "wait": fired before it is due by our clock; the relay enqueues it when it is due.
        log.info("message %s not sent now: %s", message_id, claim.reason)
        return claim.action
    try:
        provider_id = _deliver(message_id)
    except Exception as exc:
        permanent = isinstance(exc, DeliveryError) and exc.permanent
        error = str(exc) or repr(exc)
        if not isinstance(exc, DeliveryError):
            # A bug (a template, missing rows) counts as an attempt too, so it ends as failed.
            log.exception("message %s could not be prepared", message_id)
        retry_at = db.transaction(
            lambda s: outbox.record_failure(
                s,
                message_id,
                now=now(),
                error=error,
                permanent=permanent,
                max_attempts=config["MESSAGE_MAX_ATTEMPTS"],
                retry_seconds=config["MESSAGE_RETRY_SECONDS"],
            )
        )
        if retry_at is None:
            log.warning("message %s failed for good: %s", message_id, error)
            return "failed"
        raise RetryLater(f"message {message_id}: {error}; next attempt at {retry_at}") from None
    _record_sent(message_id, provider_id)
    return "sent"


def _record_sent(message_id: int, provider_id: str) -> None:
    """Write "sent", riding out a database blip: the provider already has the message.

    If this write is lost, the message is sent again once its lease runs out (the same
    idempotency key and Message-ID, but an SMTP server or a mailbox may not spot the repeat).
    A PostgreSQL restart or failover lasts seconds, so keep trying while the lease is ours.
    """
    patience = current_app.config["MESSAGE_LEASE_SECONDS"] / 2
    deadline = time.monotonic() + patience
    pause = 0.1
    while True:
        try:
            db.transaction(
                lambda s: outbox.record_sent(
                    s, message_id, now=now(), provider_message_id=provider_id
                )
            )
            return
        except DBAPIError as exc:  # db.transaction has rolled back already
            if time.monotonic() + pause > deadline:
                raise
            log.warning("message %s sent; recording it failed (%s), trying again", message_id, exc)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _deliver(message_id: int) -> str:
    session = db.session
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None:  # pragma: no cover - claimed a moment ago
        raise LookupError(f"message {message_id} vanished")
    correlation.bind((message.payload or {}).get("request_id"))
    rendered = render_outbox_message(session, message, now=now())
    # End the read before the provider call: no connection or snapshot is held while it waits.
    session.rollback()
    return deliver(current_app.config, message, rendered, host=public_host(), now=now())


def relay_outbox() -> int:
    """Enqueue every message that should be in the job queue and is not; return how many.

    This is what makes the outbox lossless: a message committed while Redis was down, whose
    enqueue failed, whose job Redis lost in a restart, or whose worker died mid-send is found
    here by its row and enqueued again (by its id, so at most one job per message runs).
    """
    queue = get_queue()
    moment = now()
    # The hand-off list first, so what waits there is enqueued by its own job id (and a drain
    # flag left by a lost drain job is cleared), then the rows that are in no list at all.
    enqueued = drain(queue, now=moment)
    after_id = seen = 0
    while seen < RELAY_MAX_ROWS:
        rows = outbox.relay_candidates(
            db.session, now=moment, horizon=RELAY_HORIZON, after_id=after_id
        )
        db.session.rollback()
        if not rows:
            break
        seen += len(rows)
        after_id = rows[-1][0]
        states = job_states(queue, [row[0] for row in rows])
        for message_id, status, due_at in rows:
            # A send whose lease ran out is dead, whatever Redis still says about its job.
            if status == outbox.QUEUED and states[message_id] in LIVE:
                continue
            enqueue_message(queue, message_id, due_at=due_at, now=moment)
            enqueued += 1
    if enqueued:
        log.info("relay enqueued %d outbox messages", enqueued)
    return enqueued


def drain_handoff() -> int:
    """Enqueue the send jobs of the messages commits handed off (booking.jobs.handoff)."""
    drained = drain(get_queue(), now=now())
    if drained:
        log.debug("drain enqueued %d outbox messages", drained)
    return drained


def release_expired_holds() -> int:
    """Expire holds that ran out and give their places back; return how many."""
    from booking.services.sweep import sweep_in_batches

    return sweep_in_batches(db.transaction, clock=now, max_batches=SWEEP_MAX_BATCHES)


def advance_admission_queue() -> int:
    """Admit whoever the waiting room's limits allow now; return how many."""
    from booking.web.queue_state import get_queue as admission_queue

    try:
        return admission_queue().advance(now=now().timestamp())
    except RedisError:
        log.warning("the waiting room could not be advanced: Redis is unavailable")
        return 0


def purge_preregistrations() -> int:
    """Delete preregistrations kept past their retention time; return how many."""
    from booking.services import preregistration

    days = current_app.config["PREREGISTRATION_RETENTION_DAYS"]
    return db.transaction(
        lambda session: preregistration.purge(session, now=now(), retention_days=days)
    )


def expire_invitations() -> int:
    """End the invitations past their expiry and return their places; return how many."""
    from booking.services import invitations

    return db.transaction(lambda session: invitations.expire(session, now=now()))


def fold_slot_day_counts() -> int:
    """Fold the slot triggers' deltas into the per clinic-day counts; return how many moved."""
    from booking.services import day_counts

    return db.transaction(day_counts.fold)


HOUSEKEEPING = (
    "booking.jobs.tasks.relay_outbox",
    "booking.jobs.tasks.release_expired_holds",
    "booking.jobs.tasks.advance_admission_queue",
    "booking.jobs.providers.schedule_provider_feeds",
    "booking.jobs.opendata.rebuild_open_data",
    "booking.jobs.tasks.purge_preregistrations",
    "booking.jobs.tasks.expire_invitations",
    "booking.jobs.tasks.fold_slot_day_counts",
)
