"""Workers: a real `flask worker` killed mid-send, the in-process worker, housekeeping, the CLI."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from booking.clock import utcnow
from booking.db import db
from booking.jobs.embedded import (
    embedded_worker_wanted,
    start_embedded_worker,
    stop_embedded_worker,
)
from booking.jobs.queue import make_queue
from booking.jobs.worker import FairSlotSimpleWorker, FairSlotWorker
from booking.models import Reservation
from booking.services import holds
from tests.conftest import make_app, rolled_back_app, truncate
from tests.jobs.conftest import book_through_api
from tests.jobs.support import book, messages, run_jobs, servers
from tests.support import RedisServer, make_clinic, make_slot

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, what, timeout=60.0):
    """Poll until ``condition()`` is true; fail (not hang) if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def descendants(pid: int) -> list[int]:
    """Child processes of ``pid``, recursively (the RQ work horse and scheduler)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


class WorkerProcess:
    """`flask --app wsgi worker` in a subprocess, configured like the test's app."""

    def __init__(self, env: dict[str, str], log: Path, *options: str) -> None:
        self.env, self.log, self.process, self.options = env, log, None, options

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *self.options],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill_all(self) -> list[int]:
        """SIGKILL the worker and every process it forked (the job's work horse included)."""
        pids = [self.process.pid, *descendants(self.process.pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        return pids

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill_all()


@pytest.mark.parametrize(
    ("channel", "fork"), [("sms", "--no-fork"), ("email", "--no-fork"), ("email", "--fork")]
)
def test_a_worker_killed_mid_send_delivers_exactly_one_confirmation_after_restart(
    channel, fork, database_url, real_redis, clock, tmp_path
):
    clock.current = utcnow()  # the worker processes keep real time; so must the booking
    lease = 3  # seconds; a real deployment uses minutes
    with servers() as (smtp, sms):
        app = make_app(
            database_url,
            clock,
            tmp_path,
            REDIS_URL=real_redis,
            MESSAGE_LEASE_SECONDS=lease,
            **smtp.config(),
            **sms.config(),
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRSLOT_")}
        env.update(
            FAIRSLOT_ENV="test",
            FAIRSLOT_SECRET_KEY=app.config["SECRET_KEY"],
            FAIRSLOT_DATABASE_URL=database_url,
            FAIRSLOT_REDIS_URL=real_redis,
            FAIRSLOT_INSTANCE_PATH=str(tmp_path / "worker-instance"),
            FAIRSLOT_QUEUE_MODE="off",
            FAIRSLOT_MESSAGE_LEASE_SECONDS=str(lease),
            FAIRSLOT_HOUSEKEEPING_SECONDS="1",
            FAIRSLOT_SMTP_HOST="127.0.0.1",
            FAIRSLOT_SMTP_PORT=str(smtp.port),
            FAIRSLOT_SMTP_SECURITY="none",
            FAIRSLOT_SMS_API_URL=sms.url,
            FAIRSLOT_SMS_ACCOUNT_SID="AC1",
            FAIRSLOT_SMS_AUTH_TOKEN="secret-token",
        )
        log = tmp_path / "worker.log"
        worker = WorkerProcess(env, log, fork)
        provider = sms if channel == "sms" else smtp
        provider.hold.set()
        try:
            contact = {"email_address": None} if channel == "sms" else {"phone": None}
            book(app, clock(), days=3, **contact)
            worker.start()
            if not provider.received.wait(60):
                pytest.fail(f"the worker never reached the provider:\n{log.read_text()}")
            killed = worker.kill_all()
            # The worker, and with --fork its work horse, which was sending.
            assert len(killed) >= (2 if fork == "--fork" else 1), killed
            provider.hold.clear()
            provider.release.set()
            (message,) = messages(app, kind="confirmation")
            assert message.status == "sending"  # claimed, never recorded as sent

            worker.start()  # restart: its relay finds the send whose lease ran out

            def sent():
                return messages(app, kind="confirmation")[0].status == "sent"

            wait_for(sent, f"the confirmation to be sent; worker log:\n{log.read_text()}")
        finally:
            worker.stop()
            with app.app_context():
                truncate(db.engine)
                db.engine.dispose()
    if channel == "sms":
        assert len(sms.requests) == 2  # the send was repeated after the crash...
        assert sms.requests[0]["key"] == sms.requests[1]["key"]
        assert len(sms.delivered) == 1  # ...and delivered once: the provider knew the key
    else:
        assert len(smtp.messages) == 1  # the killed conversation delivered nothing
        assert smtp.envelopes[0].rcpt_tos == ["resident@example.com"]


def test_the_embedded_default_runs_a_worker_thread_that_sends_to_the_demo_outbox(
    database_url, clock, tmp_path, now
):
    app = make_app(database_url, clock, tmp_path, FAIRSLOT_ENV="demo", REDIS_URL=None)
    assert embedded_worker_wanted(app)
    client = app.test_client()
    try:
        assert client.get("/healthz").status_code == 200  # the first request starts it
        confirmed = book_through_api(app, client, now)

        def sent():
            rows = messages(app, kind="confirmation")
            return len(rows) == 2 and {m.status for m in rows} == {"sent"}

        wait_for(sent, "the in-process worker to send the confirmation")
        page = client.get("/demo/outbox")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert confirmed["confirmation_code_display"] in html
        assert "You are booked" in html and "data:image/png;base64," in html
        assert "reminder" in html.lower()  # the scheduled reminders are listed too
        # The email's HTML and its calendar file open from the page; unknown ones are 404.
        email = re.search(r'href="(/demo/outbox/\d+/email\.html)"', html)
        calendar = re.search(r'href="(/demo/outbox/\d+/appointment\.ics)"', html)
        assert email and calendar
        opened = client.get(email[1])
        assert opened.mimetype == "text/html" and "<body" in opened.get_data(as_text=True)
        ics = client.get(calendar[1])
        assert ics.mimetype == "text/calendar" and b"BEGIN:VCALENDAR" in ics.data
        assert client.get("/demo/outbox/999999/email.html").status_code == 404
    finally:
        stop_embedded_worker(app)
        with app.app_context():
            truncate(db.engine)
            db.engine.dispose()


def test_no_worker_thread_in_tests_or_with_a_real_redis(app, client, database_url, clock, tmp_path):
    client.get("/healthz")
    assert "fairslot.jobs.embedded" not in app.extensions
    assert not embedded_worker_wanted(app)
    demo_with_redis = make_app(
        database_url, clock, tmp_path, FAIRSLOT_ENV="demo", REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert not embedded_worker_wanted(demo_with_redis)
    assert client.get("/demo/outbox").status_code == 404  # the page is for demo/development


def test_workers_run_the_housekeeping_jobs(database_url, clock, tmp_path, now, later):
    with rolled_back_app(database_url, clock, tmp_path) as app:
        with app.app_context():

            def setup(session):
                slot = make_slot(session, make_clinic(session, now), now + timedelta(days=2))
                return holds.place_hold(session, slot.id, now=now, hold_minutes=10).id

            hold_id = db.transaction(setup)
        later(minutes=11)
        assert run_jobs(app, housekeeping=True)
        with app.app_context():
            status = db.session.scalar(select(Reservation.status).where(Reservation.id == hold_id))
            queue = app.extensions["fairslot.jobs.queue"]
            finished = [queue.fetch_job(i) for i in queue.finished_job_registry.get_job_ids()]
            done = sorted(job.func_name.rsplit(".", 1)[1] for job in finished)
            failed = queue.failed_job_registry.count
            db.session.rollback()
        assert status == "expired"
        assert done == [
            "advance_admission_queue",
            "expire_invitations",
            "fold_slot_day_counts",
            "purge_preregistrations",
            "rebuild_open_data",
            "relay_outbox",
            "release_expired_holds",
            "schedule_provider_feeds",
        ]
        assert failed == 0
        # Once per period across all workers: a second worker right away does not repeat it.
        assert not run_jobs(app, housekeeping=True)


def test_the_worker_command_needs_a_real_redis(database_url, clock, tmp_path):
    embedded = make_app(database_url, clock, tmp_path, REDIS_URL=None)
    result = embedded.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 2
    assert "FAIRSLOT_REDIS_URL is not set" in result.output


def test_start_embedded_worker_is_idempotent(database_url, clock, tmp_path):
    app = make_app(database_url, clock, tmp_path, REDIS_URL=None, INPROCESS_WORKER=True)
    try:
        first = start_embedded_worker(app)
        assert start_embedded_worker(app) is first and first.alive
    finally:
        stop_embedded_worker(app)
    assert not first.alive


def _worker_env(database_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRSLOT_")}
    env.update(
        FAIRSLOT_ENV="test",
        FAIRSLOT_SECRET_KEY="worker-exit-test-secret-key-long-enough-0123456789",
        FAIRSLOT_DATABASE_URL=database_url,
        FAIRSLOT_REDIS_URL=redis_url,
        FAIRSLOT_INSTANCE_PATH=str(tmp_path / "worker-instance"),
        FAIRSLOT_QUEUE_MODE="off",
    )
    return env


def test_a_worker_that_loses_redis_exits_non_zero_and_a_stopped_one_exits_zero(
    database_url, tmp_path
):
    # A private server only: this test shuts its Redis down.
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    env = _worker_env(database_url, server.url, tmp_path)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    try:
        # Asked to stop (SIGTERM, as a supervisor does): a clean exit.
        log = tmp_path / "stopped.log"
        stopped = WorkerProcess(env, log).start()
        connection = redis.Redis.from_url(server.url)

        def listening():
            # Idle in its dequeue: past start-up, with its signal handlers installed.
            names = connection.smembers("rq:workers")
            return any(connection.hget(n, "state") == b"idle" for n in names)

        wait_for(listening, "the worker to wait for jobs")
        stopped.process.send_signal(signal.SIGTERM)
        assert stopped.process.wait(timeout=120) == 0, log.read_text()

        # A burst run that drains its queue: a clean exit too.
        drained = subprocess.run(
            [*command, "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert drained.returncode == 0, drained.stderr.decode()[-3000:]

        # Redis goes away under the worker (here a job shuts it down): RQ leaves its loop as if
        # it had finished, and the command must say it failed so a supervisor restarts it.
        make_queue(connection).enqueue("tests.jobs.support.shutdown_redis")
        lost = subprocess.run(
            [*command, "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert lost.returncode != 0, lost.stderr.decode()[-3000:]
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("fork", "worker_class"), [("--no-fork", FairSlotSimpleWorker), ("--fork", FairSlotWorker)]
)
def test_a_worker_whose_redis_connection_drops_in_its_loop_exits_with_status_1(
    fork, worker_class, database_url, real_redis, clock, tmp_path, monkeypatch
):
    # Redis restarted: the connection fails once outside RQ's dequeue retry, and by the time
    # RQ tidies up Redis is back, so nothing else fails (what the bench's drill saw).
    app = make_app(database_url, clock, tmp_path, REDIS_URL=real_redis)
    calls = []

    def connection_lost(self, burst):
        calls.append(burst)
        raise redis.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(worker_class, "check_for_suspension", connection_lost)
    result = app.test_cli_runner().invoke(args=["worker", "--no-scheduler", fork])
    assert calls == [False]
    assert result.exit_code == 1, result.output
    assert "stopped on an error" in result.output
