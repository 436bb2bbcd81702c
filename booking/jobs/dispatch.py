"""Dispatch after commit: hand the messages a committed unit of work wrote to the job queue.

Registered as a ``db.on_commit`` hook, so it runs only once the rows are durable (a rolled-back
booking leaves nothing behind). Messages due now or soon go onto the hand-off list
(``booking.jobs.handoff``), which a drain job in a worker turns into their send jobs; cancelled
ones are taken off RQ's schedule here. Whatever it misses (Redis down, a reminder days away), the
outbox relay enqueues later.
"""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy.orm import Session

from booking.clock import now
from booking.jobs.embedded import wake_embedded_worker
from booking.jobs.handoff import enqueue_drain, hand_off, handoff_entry
from booking.jobs.queue import RELAY_HORIZON, get_queue, unschedule_message
from booking.models import MessageStatus
from booking.services.notices import take_for_dispatch

log = logging.getLogger(__name__)


def dispatch_after_commit(session: Session) -> None:
    """Hand the messages the committed unit of work wrote to the queue, by id."""
    messages = take_for_dispatch(session)
    if not messages:
        return
    queue, moment = get_queue(), now()
    soon = moment + RELAY_HORIZON  # later ones are the relay's to schedule, in time
    entries = [
        handoff_entry(message.id, message.next_attempt_at, moment)
        for message in messages
        if message.status == MessageStatus.QUEUED and message.next_attempt_at <= soon
    ]
    try:
        # One MULTI/EXEC for all of them: a commit's messages cost one round trip, and they
        # reach Redis together or (for the relay) not at all.
        with queue.connection.pipeline() as pipe:
            pipe.multi()
            for message in messages:
                if message.status == MessageStatus.CANCELLED:
                    unschedule_message(queue, message.id, pipeline=pipe)
            if entries:
                hand_off(pipe, entries)
            results = pipe.execute()
        # The flag's SET NX came last: no drain was pending, so this commit enqueues one.
        if entries and results[-1]:
            enqueue_drain(queue)
    except Exception as exc:  # noqa: BLE001 - whatever it was, the relay recovers
        # Redis down or refusing: the rows are committed, and the relay will enqueue them.
        log.warning("could not enqueue %d messages now (%s); the relay will", len(messages), exc)
    wake_embedded_worker(current_app)
