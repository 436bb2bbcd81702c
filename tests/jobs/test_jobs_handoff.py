"""The hand-off after commit: ids onto a Redis list, one drain job per pending drain, no id left.

What the commit and the drain promise (booking.jobs.handoff): every handed-off id becomes its
message's send job and is delivered once; commits while a drain is pending enqueue no other;
ids pushed after a drain cleared its flag are drained too; Redis down, a lost drain job or lost
Redis data leave the messages to the relay; the embedded worker still sends once woken.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
import redis
from sqlalchemy import select

from booking.clock import utcnow
from booking.db import db
from booking.jobs import handoff
from booking.jobs.embedded import stop_embedded_worker
from booking.jobs.handoff import DRAIN, DRAIN_FLAG, DRAIN_FLAG_SECONDS, HANDOFF_KEY
from booking.jobs.queue import get_queue, message_job_id
from booking.jobs.tasks import relay_outbox
from booking.jobs.worker import HOUSEKEEPING_LOCK, EmbeddedWorker
from booking.models import OutboxMessage
from booking.redis_client import redis_of
from tests.conftest import make_app, rolled_back_app, truncate
from tests.jobs.conftest import book_through_api
from tests.jobs.support import book, handed_off, messages, run_jobs, servers
from tests.jobs.test_jobs_worker import ROOT, wait_for


@pytest.fixture
def texting(database_url, clock, tmp_path):
    """A rolled-back app that texts through a local SMS API stub."""
    with (
        servers() as (_, sms),
        rolled_back_app(database_url, clock, tmp_path, **sms.config()) as app,
    ):
        yield app, sms


def queued_drains(app):
    """The drain jobs waiting on the queue."""
    with app.app_context():
        return [job for job in get_queue().get_jobs() if job.func_name == DRAIN]


def finished_drains(app):
    """What each drain job that ran returned (how many ids it turned into send jobs)."""
    with app.app_context():
        queue = get_queue()
        jobs = [queue.fetch_job(i) for i in queue.finished_job_registry.get_job_ids()]
        return sorted(job.return_value() for job in jobs if job.func_name == DRAIN)


def sms_ids(app):
    """The SMS confirmations' outbox ids, oldest first."""
    return [m.id for m in messages(app, kind="confirmation", channel="sms")]


def assert_sent_once(app, sms, count):
    rows = messages(app, kind="confirmation")
    assert [m.status for m in rows] == ["sent"] * count
    assert len(sms.requests) == count and len(sms.delivered) == count


def test_commits_while_a_drain_is_pending_share_it_and_each_message_goes_once(texting, now):
    app, sms = texting
    for n in range(3):
        book(app, now, n=n, email_address=None)
    # One drain job for three commits: the second and third found its flag set.
    assert len(queued_drains(app)) == 1
    assert handed_off(app) == [str(i) for i in sms_ids(app)]
    assert run_jobs(app)
    assert finished_drains(app) == [3]
    assert handed_off(app) == []
    with app.app_context():
        finished = set(get_queue().finished_job_registry.get_job_ids())
        assert {message_job_id(i) for i in sms_ids(app)} <= finished  # each by its own job id
    assert_sent_once(app, sms, 3)
    # The drain cleared the flag: the next commit enqueues a drain of its own.
    book(app, now, n=4, email_address=None)
    assert len(queued_drains(app)) == 1
    run_jobs(app)
    assert finished_drains(app) == [1, 3]
    with app.app_context():
        assert relay_outbox() == 0  # nothing the relay has to make up for
    assert not run_jobs(app)
    assert_sent_once(app, sms, 4)


@pytest.mark.parametrize("moment", ["before its first pop", "after its last pop"])
def test_ids_pushed_after_the_drain_cleared_its_flag_are_drained(texting, now, monkeypatch, moment):
    app, sms = texting
    book(app, now, n=1, email_address=None)
    connection = redis_of(app)
    real_lpop = type(connection).lpop
    late = []

    def lpop(self, name, count=None):
        # The drain has cleared its flag; a second booking commits at `moment`.
        if name == HANDOFF_KEY and not late and moment == "before its first pop":
            late.append(book(app, now, n=2, email_address=None))
        popped = real_lpop(self, name, count)
        if name == HANDOFF_KEY and not late and not popped:
            late.append(book(app, now, n=2, email_address=None))
        return popped

    monkeypatch.setattr(type(connection), "lpop", lpop)
    assert run_jobs(app)
    assert late  # the second commit did land inside the drain
    # It found the flag cleared and enqueued a second drain. Before the first pop, the first
    # drain takes both ids and the second finds none; after the last, the second takes it.
    expected = [0, 2] if moment == "before its first pop" else [1, 1]
    assert finished_drains(app) == expected
    assert handed_off(app) == []
    assert_sent_once(app, sms, 2)


def test_redis_down_at_the_commit_is_a_warning_and_the_relay_sends_each_message_once(
    texting, now, monkeypatch, caplog
):
    app, sms = texting

    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis: refused")

    monkeypatch.setattr(redis.client.Pipeline, "execute", down)
    with caplog.at_level(logging.WARNING, logger="booking.jobs.dispatch"):
        book(app, now, email_address=None)  # the booking itself commits
    assert "could not enqueue" in caplog.text and "the relay will" in caplog.text
    monkeypatch.undo()
    assert handed_off(app) == [] and queued_drains(app) == []
    with app.app_context():
        assert relay_outbox() == 1
        assert relay_outbox() == 0  # on the queue now: not twice
    run_jobs(app)
    assert_sent_once(app, sms, 1)


def test_a_lost_drain_job_delays_the_next_drains_only_until_the_relay_or_the_expiry(texting, now):
    app, sms = texting
    book(app, now, n=1, email_address=None)
    with app.app_context():
        get_queue().empty()  # the drain job is lost; its flag and the ids are still in Redis
    book(app, now, n=2, email_address=None)
    assert queued_drains(app) == []  # the flag says a drain is pending
    assert 0 < redis_of(app).ttl(DRAIN_FLAG) <= DRAIN_FLAG_SECONDS  # but not for long
    assert not run_jobs(app) and sms.requests == []
    with app.app_context():
        assert relay_outbox() == 2  # drained from the list, each by its own job id
    assert redis_of(app).exists(DRAIN_FLAG) == 0
    run_jobs(app)
    assert_sent_once(app, sms, 2)
    book(app, now, n=3, email_address=None)
    assert len(queued_drains(app)) == 1  # commits enqueue drains again


def test_redis_data_lost_after_the_commit_leaves_the_messages_to_the_relay(texting, now):
    app, sms = texting
    book(app, now, email_address=None)
    redis_of(app).flushdb()  # a restart without persistence: the list, flag and drain job gone
    assert not run_jobs(app)
    with app.app_context():
        assert relay_outbox() == 1
    run_jobs(app)
    book(app, now, n=2, email_address=None)  # and the next commit enqueues a drain again
    run_jobs(app)
    assert_sent_once(app, sms, 2)


def test_a_long_backlog_is_handed_to_another_drain_job(texting, now, monkeypatch):
    app, sms = texting
    for n in range(3):
        book(app, now, n=n, email_address=None)
    monkeypatch.setattr(handoff, "DRAIN_BATCH", 1)
    monkeypatch.setattr(handoff, "DRAIN_MAX_BATCHES", 2)
    run_jobs(app)
    assert finished_drains(app) == [1, 2]
    assert_sent_once(app, sms, 3)


def test_a_message_due_within_the_horizon_is_scheduled_by_the_drain(texting, clock, now):
    app, sms = texting
    book(app, now, days=(2 * 60 + 10) / (24 * 60), email_address=None)  # 2 h 10 min ahead
    (reminder,) = messages(app, kind="reminder")
    run_jobs(app)
    with app.app_context():
        scheduled = get_queue().scheduled_job_registry
        assert scheduled.get_scheduled_time(message_job_id(reminder.id)) == reminder.send_after
    clock.current = reminder.send_after
    run_jobs(app)
    assert [r["form"]["Body"].count("reminder") > 0 for r in sms.requests] == [False, True]


def test_a_real_worker_turns_the_handed_off_ids_into_send_jobs_and_sends_each_once(
    committed, real_redis, clock, tmp_path
):
    clock.current = utcnow()  # the worker process keeps real time; so must the bookings
    with servers() as (smtp, sms):
        app = committed(REDIS_URL=real_redis, **smtp.config(), **sms.config())
        for n in range(3):
            book(app, clock(), n=n)  # an email and an SMS confirmation each
        assert len(queued_drains(app)) == 1 and len(handed_off(app)) == 6
        # Housekeeping (whose relay would drain the list too) counts as done for this period,
        # so the drain job alone hands the ids over.
        redis.Redis.from_url(real_redis).set(HOUSEKEEPING_LOCK, 1, ex=600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRSLOT_")}
        env.update(
            FAIRSLOT_ENV="test",
            FAIRSLOT_SECRET_KEY=app.config["SECRET_KEY"],
            FAIRSLOT_DATABASE_URL=app.config["DATABASE_URL"],
            FAIRSLOT_REDIS_URL=real_redis,
            FAIRSLOT_INSTANCE_PATH=str(tmp_path / "worker-instance"),
            FAIRSLOT_QUEUE_MODE="off",
            FAIRSLOT_SMTP_HOST="127.0.0.1",
            FAIRSLOT_SMTP_PORT=str(smtp.port),
            FAIRSLOT_SMTP_SECURITY="none",
            FAIRSLOT_SMS_API_URL=sms.url,
            FAIRSLOT_SMS_ACCOUNT_SID="AC1",
            FAIRSLOT_SMS_AUTH_TOKEN="secret-token",
        )
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"]
        for _ in range(2):  # the second run finds nothing left to send
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120)
            assert done.returncode == 0, done.stderr.decode()[-3000:]
        assert finished_drains(app) == [6]
        rows = messages(app, kind="confirmation")
    assert [m.status for m in rows] == ["sent"] * 6
    assert len(smtp.messages) == 3
    assert len(sms.requests) == 3 and len(sms.delivered) == 3


class _WokenOnly(EmbeddedWorker):
    """An embedded worker that would not look for work again for an hour unless woken."""

    def __init__(self, app, *, poll_seconds=3600.0):
        super().__init__(app, poll_seconds=poll_seconds)


def test_the_embedded_worker_is_woken_by_the_commit_and_sends_at_once(
    database_url, clock, tmp_path, now, monkeypatch
):
    monkeypatch.setattr("booking.jobs.worker.EmbeddedWorker", _WokenOnly)
    app = make_app(database_url, clock, tmp_path, FAIRSLOT_ENV="demo", REDIS_URL=None)
    client = app.test_client()
    try:
        assert client.get("/healthz").status_code == 200  # starts the worker

        def idle():
            # Its first round (the relay it enqueues at start) is done: it waits for an hour.
            with app.app_context():
                return get_queue().finished_job_registry.count > 0

        wait_for(idle, "the in-process worker's first round")
        book_through_api(app, client, now)

        def sent():
            with app.app_context():
                statuses = db.session.scalars(
                    select(OutboxMessage.status).where(OutboxMessage.kind == "confirmation")
                ).all()
                db.session.rollback()
            return bool(statuses) and set(statuses) == {"sent"}

        # Well within the hour: only the commit's wake-up can have made it look.
        wait_for(sent, "the woken in-process worker to send the confirmations")
    finally:
        stop_embedded_worker(app)
        with app.app_context():
            truncate(db.engine)
            db.engine.dispose()
