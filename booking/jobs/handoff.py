"""The hand-off after commit: message ids onto a Redis list, one drain job turns them into jobs.

Building an RQ job (a Job object, its JSON, a hash of some 15 fields) cost a booking request
about 6% of its CPU, once per message. Now the request only appends each message's id (and,
when it is due later, its due time) to ``HANDOFF_KEY`` and sets ``DRAIN_FLAG`` (NX, with an
expiry), both in the commit's one MULTI/EXEC; only the commit that finds the flag unset enqueues
a drain job. The drain (``booking.jobs.tasks.drain_handoff``, in a worker) clears the flag first,
then pops the ids in batches and enqueues each message's send job under its own job id
(``queue.enqueue_message``), so the job construction moves to the worker and, in a crowd, many
commits share one drain.

Why no commit is left waiting:

- A commit's RPUSH and SET NX are one MULTI/EXEC, and a drain deletes the flag before its first
  LPOP and pops until the list is empty. Ids pushed before the DEL are popped by that drain; a
  commit after the DEL finds the flag unset and enqueues a drain of its own (its ids may also be
  popped by the running drain, and the second drain then finds nothing: harmless).
- A drain job that was never enqueued or is lost (Redis restarted) leaves the flag set for at
  most ``DRAIN_FLAG_SECONDS``; the relay (every worker's housekeeping) drains the list too and
  clears the flag, and whatever was popped but not enqueued, or lost with Redis, is still a
  queued row in the outbox, which the relay enqueues. Nothing depends on this list for
  durability.
- An id handed off twice (the relay and a drain) names the same job, and the sender's
  bookkeeping makes a second run a no-op, as before.

A message due later (a reminder within the relay's horizon) carries its due time, and the drain
schedules it. Cancellations stay as they were: the commit takes the job off RQ's schedule (a
message cancelled while its id still waits on the list gets a job that finds it cancelled and
sends nothing).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from redis.client import Pipeline
from rq import Queue

from booking.jobs.queue import enqueue_message

HANDOFF_KEY = "fairslot:handoff:ids"
DRAIN_FLAG = "fairslot:handoff:drain-pending"
# How long a drain that was never enqueued (a web process killed between the flag and the
# enqueue) or was lost can keep later commits from enqueueing another; the relay, every
# FAIRSLOT_HOUSEKEEPING_SECONDS, also drains the list and clears the flag. Short, because the
# only cost of a flag expiring early (a drain job still waiting behind a long queue) is a
# second drain job that finds little or nothing.
DRAIN_FLAG_SECONDS = 15
DRAIN_BATCH = 200  # ids popped, and send jobs enqueued, per round trip
DRAIN_MAX_BATCHES = 50  # then another drain job takes over, so no job runs for long
DRAIN = "booking.jobs.tasks.drain_handoff"


def handoff_entry(message_id: int, due_at: datetime, now: datetime) -> str:
    """A message's entry on the list: its id, and its due time when that is still ahead."""
    return str(message_id) if due_at <= now else f"{message_id}@{due_at.isoformat()}"


def parse_entry(raw: bytes | str) -> tuple[int, datetime | None]:
    """The message id and due time (None: due now) of a list entry."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    message_id, _, due = text.partition("@")
    return int(message_id), datetime.fromisoformat(due) if due else None


def hand_off(pipe: Pipeline, entries: list[str]) -> None:
    """Queue on ``pipe`` the entries' RPUSH and the drain flag's SET NX (its result comes last)."""
    pipe.rpush(HANDOFF_KEY, *entries)
    pipe.set(DRAIN_FLAG, 1, nx=True, ex=DRAIN_FLAG_SECONDS)


def enqueue_drain(queue: Queue) -> None:
    """Enqueue a drain job (the caller has just set the flag); on failure, clear the flag again.

    Clearing it lets the next commit try again at once; the ids already pushed wait for that
    drain or the relay.
    """
    try:
        # On a pipeline of our own: one round trip (RQ's enqueue alone makes two).
        with queue.connection.pipeline() as pipe:
            pipe.multi()  # before any command: RQ's enqueue would otherwise call it mid-way
            queue.enqueue(
                DRAIN,
                job_timeout=300,
                result_ttl=60,
                description="hand committed outbox messages to their send jobs",
                pipeline=pipe,
            )
            pipe.execute()
    except Exception:
        # If Redis itself is down this fails too, and the flag expires by itself.
        with contextlib.suppress(Exception):
            queue.connection.delete(DRAIN_FLAG)
        raise


def request_drain(queue: Queue) -> bool:
    """Set the flag and enqueue a drain job unless one is pending already; return if it did."""
    if not queue.connection.set(DRAIN_FLAG, 1, nx=True, ex=DRAIN_FLAG_SECONDS):
        return False
    enqueue_drain(queue)
    return True


def drain(queue: Queue, *, now: datetime) -> int:
    """Turn the handed-off ids into their send jobs (scheduled when due later); return how many.

    The flag is cleared before the first pop: see the module's docstring.
    """
    connection = queue.connection
    connection.delete(DRAIN_FLAG)
    drained = 0
    for _ in range(DRAIN_MAX_BATCHES):
        raw: list[bytes] | None = connection.lpop(HANDOFF_KEY, DRAIN_BATCH)  # type: ignore[assignment]
        if not raw:
            return drained
        _enqueue_all(queue, [parse_entry(entry) for entry in raw], now=now)
        drained += len(raw)
    # A long backlog: leave the rest to another drain job rather than run on and on.
    request_drain(queue)
    return drained


def _enqueue_all(
    queue: Queue, entries: list[tuple[int, datetime | None]], *, now: datetime
) -> None:
    # One MULTI/EXEC per batch. If it fails, the popped ids are gone from the list but not from
    # the outbox: the relay enqueues them.
    with queue.connection.pipeline() as pipe:
        pipe.multi()  # before any command: RQ's enqueue would otherwise call it mid-way
        for message_id, due_at in entries:
            enqueue_message(queue, message_id, due_at=due_at or now, now=now, pipeline=pipe)
        pipe.execute()
