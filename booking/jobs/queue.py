"""The RQ queue: JSON-serialized jobs, one job id per outbox message, and scheduling helpers.

Jobs carry ids only (an outbox message id, or nothing), never objects, and are serialized with
RQ's JSON serializer, not pickle. A message's job id is derived from its outbox id, so enqueuing
it twice (the after-commit hook and the relay) names the same job, and the sender's bookkeeping
makes a second run a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from redis.client import Pipeline
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from booking.redis_client import redis_of
from booking.services.outbox import retry_intervals

log = logging.getLogger(__name__)
QUEUE_NAME = "fairslot"
# Messages due further ahead than this (reminders, days away) wait in the outbox, not in Redis:
# the relay, every FAIRSLOT_HOUSEKEEPING_SECONDS, schedules each once it comes this close. A
# booking then costs one job per channel, not three, and Redis does not hold every reminder
# for days.
RELAY_HORIZON = timedelta(minutes=15)
SEND_MESSAGE = "booking.jobs.tasks.send_message"
_EXT = "fairslot.jobs.queue"
# A job in one of these states will run (or is running) without help from the relay.
LIVE = {JobStatus.QUEUED.value, JobStatus.SCHEDULED.value, JobStatus.DEFERRED.value}


def make_queue(connection: Any) -> Queue:
    """The FairSlot queue on a Redis connection, with the JSON serializer."""
    return Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer)


def init_queue(app: Flask) -> None:
    """Attach the queue on the app's Redis."""
    app.extensions[_EXT] = make_queue(redis_of(app))


def get_queue() -> Queue:
    """The current app's job queue."""
    queue: Queue = current_app.extensions[_EXT]
    return queue


def message_job_id(message_id: int) -> str:
    """The RQ job id of an outbox message: its outbox id."""
    return f"outbox-{message_id}"


def _send_options(config: Any, message_id: int) -> dict[str, Any]:
    lease = int(config["MESSAGE_LEASE_SECONDS"])
    intervals = retry_intervals(config["MESSAGE_MAX_ATTEMPTS"], config["MESSAGE_RETRY_SECONDS"])
    return {
        "job_id": message_job_id(message_id),
        # A send running longer than its lease is killed, so a lease that ran out means the
        # worker is gone and the message may be claimed again.
        "job_timeout": lease,
        "result_ttl": 3600,
        "failure_ttl": 7 * 24 * 3600,
        "retry": Retry(max=len(intervals), interval=intervals) if intervals else None,
        "description": f"send outbox message {message_id}",
    }


def enqueue_message(
    queue: Queue,
    message_id: int,
    *,
    due_at: datetime,
    now: datetime,
    config: Any = None,
    pipeline: Pipeline | None = None,
) -> Job:
    """Enqueue the send job for a message now, or schedule it for ``due_at``.

    With a ``pipeline`` the commands are only queued on it; they reach Redis when the caller
    executes it, so several messages cost one round trip.
    """
    options = _send_options(config if config is not None else current_app.config, message_id)
    if due_at > now:
        job: Job = queue.enqueue_at(due_at, SEND_MESSAGE, message_id, pipeline=pipeline, **options)
    else:
        job = queue.enqueue(SEND_MESSAGE, message_id, pipeline=pipeline, **options)
    return job


def unschedule_message(queue: Queue, message_id: int, *, pipeline: Pipeline | None = None) -> None:
    """Take a cancelled message's scheduled job off the schedule (its run would do nothing)."""
    job_id = message_job_id(message_id)
    ScheduledJobRegistry(queue=queue).remove(job_id, pipeline=pipeline)
    (pipeline if pipeline is not None else queue.connection).delete(Job.key_for(job_id))


def job_states(queue: Queue, message_ids: Iterable[int]) -> dict[int, str | None]:
    """Each message's job state in Redis (None when there is no such job), in one round trip."""
    ids = list(message_ids)
    pipe = queue.connection.pipeline(transaction=False)
    for message_id in ids:
        pipe.hget(Job.key_for(message_job_id(message_id)), "status")
    states: dict[int, str | None] = {}
    for message_id, raw in zip(ids, pipe.execute(), strict=True):
        states[message_id] = raw.decode() if isinstance(raw, bytes) else raw
    return states


def promote_due_jobs(queue: Queue, *, now: datetime) -> int:
    """Move scheduled jobs due by ``now`` onto the queue (what RQ's scheduler does each second).

    The in-process worker of the embedded default calls this with the app's clock, so it needs
    no scheduler process; tests use it to move time forward.
    """
    registry = ScheduledJobRegistry(queue=queue)
    job_ids = registry.get_jobs_to_schedule(int(now.astimezone(UTC).timestamp()))
    promoted = 0
    for job_id in job_ids:
        job = queue.fetch_job(job_id)
        registry.remove(job_id)
        if job is not None:
            queue.enqueue_job(job)
            promoted += 1
    return promoted
