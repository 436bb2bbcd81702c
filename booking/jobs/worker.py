"""RQ workers that run each job in its own app context, and the periodic housekeeping.

- ``FairSlotSimpleWorker`` runs each job in the worker process itself (RQ's ``SimpleWorker``):
  templates, translations, compiled SQL and database connections stay warm from one job to the
  next. ``flask --app wsgi worker`` runs it with RQ's scheduler. A job that hangs is still
  stopped by its timeout (SIGALRM, in the main thread).
- ``FairSlotWorker`` is RQ's forking worker (``flask --app wsgi worker --fork``): each job runs
  in a fresh child process (a "work horse"), so even a job that crashes the interpreter cannot
  take the worker with it; but each child starts cold (it compiles the message templates and
  SQL, loads locale data and connects to PostgreSQL again), measured at about 4-5x the CPU per
  message (docs/performance.md). ``rq worker --worker-class booking.jobs.worker.FairSlotWorker``
  works too.
- ``InProcessWorker`` runs jobs in the calling thread. The embedded default (no
  FAIRSLOT_REDIS_URL: fakeredis lives inside the web process) uses it from a daemon thread,
  ``EmbeddedWorker``, so the demo sends and schedules messages with nothing else running.

Both enqueue the housekeeping jobs every FAIRSLOT_HOUSEKEEPING_SECONDS; a Redis key with that
expiry makes sure only one worker of many does it per period.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Flask
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty

from booking.clock import now
from booking.jobs.queue import QUEUE_NAME, make_queue, promote_due_jobs
from booking.jobs.tasks import HOUSEKEEPING, RetryLater
from booking.redis_client import redis_of

log = logging.getLogger(__name__)
HOUSEKEEPING_LOCK = "fairslot:housekeeping"


def enqueue_housekeeping(queue: Queue, *, every_seconds: int) -> bool:
    """Enqueue the housekeeping jobs unless some worker already did in this period."""
    if not queue.connection.set(HOUSEKEEPING_LOCK, 1, nx=True, ex=max(1, every_seconds)):
        return False
    for func in HOUSEKEEPING:
        queue.enqueue(func, job_timeout=max(60, every_seconds * 5), result_ttl=600)
    return True


class _AppJobs:
    """Mixin for RQ's workers: every job runs in a fresh app context of the worker's Flask app."""

    flask_app: Flask
    housekeeping_seconds: int

    def _setup_app(self, app: Flask | None) -> None:
        if app is None:
            # Started by `rq worker --worker-class ...`: build the app from FAIRSLOT_* here.
            from booking import create_app

            app = create_app()
        self.flask_app = app
        self.housekeeping_seconds = int(app.config["HOUSEKEEPING_SECONDS"])

    def perform_job(self, job: Any, queue: Any, execution: Any) -> bool:
        """Run the job in a fresh app context (the engine's pool is kept across jobs)."""
        # Fresh even where the thread has one (the caller's, in tests): jobs do not share `g`.
        with self.flask_app.app_context():
            self._prepare_job()
            result: bool = super().perform_job(job, queue, execution)  # type: ignore[misc]
            return result

    def _prepare_job(self) -> None:
        """Called in the job's app context before it runs; nothing to do unless forked."""

    def handle_exception(self, job: Any, *exc_info: Any) -> None:
        """Log a provider failure that will be retried in one line, not as a crash."""
        if len(exc_info) > 1 and isinstance(exc_info[1], RetryLater):
            log.warning("%s", exc_info[1])
            return
        super().handle_exception(job, *exc_info)  # type: ignore[misc]

    def _housekeeping(self, queue: Queue) -> None:
        try:
            enqueue_housekeeping(queue, every_seconds=self.housekeeping_seconds)
        except Exception:
            log.exception("could not enqueue the housekeeping jobs")


# mypy reads the mixin as the RQ worker it is always combined with; at run time it stays a
# plain mixin, so each concrete class below picks its own RQ base.
if TYPE_CHECKING:
    _RQWorker = Worker
else:
    _RQWorker = object


class _CommandLineWorker(_AppJobs, _RQWorker):
    """What ``flask worker`` adds to RQ's workers: settings, exit status and housekeeping."""

    queues: list[Queue]

    def __init__(self, queues: Any, *args: Any, app: Flask | None = None, **kwargs: Any) -> None:
        self._setup_app(app)
        kwargs["serializer"] = JSONSerializer
        # RQ wakes from its blocking wait once per dequeue timeout (worker_ttl - 15 seconds);
        # keep that no longer than the housekeeping period so housekeeping runs on time.
        kwargs["worker_ttl"] = self.housekeeping_seconds + 15
        kwargs["maintenance_interval"] = self.housekeeping_seconds
        super().__init__(queues, *args, **kwargs)
        # RQ's work loop ends the same way whether it was asked to stop or hit an error it did
        # not expect (a Redis connection lost outside its dequeue retry): remember which.
        self.stopped_on_purpose = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        """Warm shutdown (SIGTERM, SIGINT): finish the current job, then exit cleanly."""
        self.stopped_on_purpose = True
        super().request_stop(signum, frame)

    def dequeue_job_and_maintain_ttl(self, timeout: Any, max_idle_time: Any = None) -> Any:
        """RQ's dequeue; nothing left in a burst run also counts as stopping on purpose."""
        result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        if result is None:
            self.stopped_on_purpose = True
        return result

    def run_maintenance_tasks(self) -> None:
        """RQ's registry clean-up, then our housekeeping."""
        super().run_maintenance_tasks()
        self._housekeeping(self.queues[0])


class FairSlotSimpleWorker(_CommandLineWorker, SimpleWorker):
    """Runs each job in this process, in a fresh app context; see the module's docstring."""


class FairSlotWorker(_CommandLineWorker, Worker):
    """RQ's forking worker, with an app context per job and the periodic housekeeping."""

    def _prepare_job(self) -> None:
        """In the forked work horse: leave the parent's database connections to the parent."""
        from booking.db import db

        db.engine.dispose(close=False)


class InProcessWorker(_AppJobs, SimpleWorker):
    """Runs jobs in the calling thread; for the embedded default's thread and for tests."""

    # SIGALRM only works in the main thread; a timer thread enforces job timeouts instead.
    death_penalty_class = TimerDeathPenalty

    def __init__(self, app: Flask, connection: Any, *, housekeeping: bool = True) -> None:
        self._setup_app(app)
        self.with_housekeeping = housekeeping
        super().__init__(
            [make_queue(connection)],
            connection=connection,
            serializer=JSONSerializer,
            maintenance_interval=self.housekeeping_seconds,
        )

    def _install_signal_handlers(self) -> None:
        """Leave signals to the host process (a web server, or pytest)."""

    def subscribe(self) -> None:
        """No pub/sub command channel for an in-process worker."""

    def run_maintenance_tasks(self) -> None:
        """RQ's registry clean-up, then our housekeeping (unless switched off)."""
        super().run_maintenance_tasks()
        if self.with_housekeeping:
            self._housekeeping(self.queues[0])

    def run_due(self, *, until: datetime | None = None) -> bool:
        """Promote scheduled jobs due by the app's clock (or ``until``), then run the queue."""
        with self.flask_app.app_context():
            promote_due_jobs(self.queues[0], now=until or now())
        return bool(self.work(burst=True, logging_level="WARNING"))


class EmbeddedWorker:
    """A daemon thread running an ``InProcessWorker`` for an app on the embedded default."""

    def __init__(self, app: Flask, *, poll_seconds: float = 1.0) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fairslot-worker", daemon=True)

    def start(self) -> EmbeddedWorker:
        """Start the thread."""
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look for work now instead of at the next poll (after a commit enqueued something)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current job and wait for the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        return self._thread.is_alive()

    def _run(self) -> None:
        worker = InProcessWorker(self.app, redis_of(self.app))
        with self.app.app_context():
            # Jobs lost with the in-process Redis when the app last stopped come back first.
            worker.queues[0].enqueue("booking.jobs.tasks.relay_outbox")
        while not self._stop.is_set():
            try:
                worker.run_due()
            except Exception:
                log.exception("the in-process worker failed; it goes on")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


def worker_queue_names() -> list[str]:
    """The queues a FairSlot worker listens on."""
    return [QUEUE_NAME]
