"""Never lost, never twice: faults between commit and enqueue, dead workers, lost Redis data."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from rq import Queue
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from booking.db import db
from booking.jobs.queue import get_queue
from booking.jobs.tasks import RELAY_HORIZON, drain_handoff, relay_outbox
from booking.models import OutboxMessage
from booking.services import holds, outbox, reservations
from tests.conftest import rolled_back_app
from tests.jobs.support import book, messages, run_jobs, servers
from tests.support import ANSWERS, RedisServer, make_clinic, make_slot, person, person_json

LEASE = 300


@pytest.fixture
def texting(database_url, clock, tmp_path):
    """A rolled-back app that texts through a local SMS API stub."""
    overrides = {"MESSAGE_LEASE_SECONDS": LEASE}
    with (
        servers() as (_, sms),
        rolled_back_app(database_url, clock, tmp_path, **sms.config(), **overrides) as app,
    ):
        yield app, sms


def relay(app):
    with app.app_context():
        return relay_outbox()


def book_through_the_api(app, now):
    client = app.test_client()
    with app.app_context():
        slot_id = db.transaction(
            lambda s: make_slot(s, make_clinic(s, now), now + timedelta(days=3)).id
        )
    hold = client.post("/api/v1/holds", json={"slot_id": slot_id})
    assert hold.status_code == 201, hold.json
    confirmed = client.post(f"/api/v1/holds/{hold.json['hold_id']}/confirm", json=person_json(1))
    assert confirmed.status_code == 201, confirmed.json
    return confirmed.json


def refuse_enqueues(monkeypatch):
    def down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to redis: refused")

    monkeypatch.setattr(Queue, "enqueue_job", down)
    monkeypatch.setattr(Queue, "schedule_job", down)


def test_a_failed_enqueue_loses_nothing_the_relay_sends_each_message_once(
    texting, clock, now, monkeypatch
):
    app, sms = texting
    refuse_enqueues(monkeypatch)
    answer = book_through_the_api(app, now)  # the booking itself succeeds
    with app.app_context():
        assert get_queue().count == 0 and get_queue().scheduled_job_registry.count == 0
    run_jobs(app)
    assert sms.requests == []
    monkeypatch.undo()

    assert relay(app) == 1  # the confirmation; the reminders are days away
    assert relay(app) == 0  # already on the queue: not twice
    run_jobs(app)
    code = answer["confirmation_code_display"]
    assert [code in r["form"]["Body"] for r in sms.requests] == [True]
    assert relay(app) == 0 and not run_jobs(app)

    # The reminders are scheduled by the relay once they come within its horizon.
    starts = messages(app, kind="reminder")[0].send_after + timedelta(hours=24)
    clock.current = starts - timedelta(hours=24) - RELAY_HORIZON - timedelta(minutes=1)
    assert relay(app) == 0
    clock.current += timedelta(minutes=2)
    assert relay(app) == 1
    clock.current = starts - timedelta(hours=24)
    run_jobs(app)
    assert len(sms.requests) == 2 and len(sms.delivered) == 2
    assert [m.status for m in messages(app)] == ["sent", "sent", "queued"]


def test_with_redis_down_the_booking_commits_and_its_messages_go_once_redis_is_back(
    database_url, clock, tmp_path, now
):
    if not RedisServer.available():
        pytest.skip("needs redis-server")
    server = RedisServer().start()
    try:
        with servers() as (_, sms):
            overrides = {**sms.config(), "REDIS_URL": server.url}
            with rolled_back_app(database_url, clock, tmp_path, **overrides) as app:
                server.stop()
                book_through_the_api(app, now)
                server.start()  # empty: whatever was in it is gone
                assert relay(app) == 1
                run_jobs(app)
                assert relay(app) == 0
                run_jobs(app)
                assert len(sms.requests) == 1
                assert [m.status for m in messages(app, kind="confirmation")] == ["sent"]
    finally:
        server.stop()


def test_a_send_whose_worker_died_after_claiming_is_sent_once_its_lease_runs_out(
    texting, clock, now
):
    app, sms = texting
    book(app, now, email_address=None)
    (message,) = messages(app, kind="confirmation")
    with app.app_context():
        # A worker drained the hand-off, claimed the message and died before calling the
        # provider.
        drain_handoff()
        db.transaction(lambda s: outbox.claim(s, message.id, now=now, lease_seconds=LEASE))
        get_queue().empty()
    assert relay(app) == 0  # its lease still runs: it might be mid-send
    clock.current = now + timedelta(seconds=LEASE)
    assert relay(app) == 1
    run_jobs(app)
    (message,) = messages(app, kind="confirmation")
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(sms.requests) == 1


def test_a_crash_after_the_provider_took_it_resends_with_the_same_key_so_it_arrives_once(
    texting, clock, now, monkeypatch
):
    app, sms = texting
    book(app, now, email_address=None)
    real = outbox.record_sent

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")  # the process dies before writing "sent"

    monkeypatch.setattr(outbox, "record_sent", crash)
    run_jobs(app)
    monkeypatch.setattr(outbox, "record_sent", real)
    (message,) = messages(app, kind="confirmation")
    assert message.status == "sending" and len(sms.requests) == 1

    clock.current = now + timedelta(seconds=LEASE)
    assert relay(app) == 1
    run_jobs(app)
    (message,) = messages(app, kind="confirmation")
    assert message.status == "sent"
    assert len(sms.requests) == 2
    assert sms.requests[0]["key"] == sms.requests[1]["key"]
    assert len(sms.delivered) == 1  # the provider recognised the repeat
    assert message.provider_message_id == next(iter(sms.delivered.values()))["sid"]


def test_a_database_blip_after_the_provider_took_it_is_ridden_out_not_resent(
    texting, now, monkeypatch
):
    # PostgreSQL restarts just as the worker writes "sent": the write is tried again, so the
    # message is not left "sending" to be sent a second time when its lease runs out.
    app, sms = texting
    book(app, now, email_address=None)
    real = outbox.record_sent
    failures = []

    def restarting(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("UPDATE outbox_message", {}, Exception("server closed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "record_sent", restarting)
    run_jobs(app)
    (message,) = messages(app, kind="confirmation")
    assert len(failures) == 2
    assert (message.status, message.attempts) == ("sent", 1)
    assert len(sms.requests) == 1


def test_a_job_run_again_after_the_send_was_recorded_sends_nothing(texting, now):
    app, sms = texting
    book(app, now, email_address=None)
    run_jobs(app)
    (message,) = messages(app, kind="confirmation")
    with app.app_context():
        get_queue().enqueue("booking.jobs.tasks.send_message", message.id)
        get_queue().enqueue("booking.jobs.tasks.send_message", message.id)
    run_jobs(app)
    assert len(sms.requests) == 1


def test_a_second_claim_while_a_send_is_under_way_is_refused(session, now):
    slot = make_slot(session, make_clinic(session, now), now + timedelta(days=2))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    reservations.confirm_hold(
        session,
        hold.hold_token,
        person(1),
        now=now,
        secret_key="k",
        answers=ANSWERS,
        admission_ticket=None,
    )
    session.flush()
    message_id = session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.kind == "confirmation")
    )
    first = outbox.claim(session, message_id, now=now, lease_seconds=LEASE)
    soon = now + timedelta(seconds=1)
    second = outbox.claim(session, message_id, now=soon, lease_seconds=LEASE)
    assert (first.action, second.action) == ("send", "skip")
    assert second.reason == "another worker is sending it"
    outbox.record_sent(session, message_id, now=soon, provider_message_id="x")
    late = now + timedelta(seconds=LEASE)
    after = outbox.claim(session, message_id, now=late, lease_seconds=LEASE)
    assert (after.action, after.reason) == ("skip", "already sent")
