"""Reminders: scheduled for their time, moved with the appointment, dropped when it is cancelled.

The test clock is the app's clock, and scheduled jobs are promoted by it (what RQ's scheduler
does by the wall clock in production), so time moves only when a test says so. Reminders wait in
the outbox until the relay (every worker's housekeeping, each minute) schedules them 15 minutes
ahead: ``run_jobs(app, relay=True)`` runs it first.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from booking.db import db
from booking.jobs.queue import RELAY_HORIZON, enqueue_message, get_queue, message_job_id
from booking.jobs.tasks import drain_handoff, relay_outbox
from booking.services import moves, reservations
from tests.conftest import rolled_back_app
from tests.jobs.support import book, messages, run_jobs, servers


@pytest.fixture
def texting(database_url, clock, tmp_path):
    """A rolled-back app that texts through a local SMS API stub."""
    with (
        servers() as (_, sms),
        rolled_back_app(database_url, clock, tmp_path, **sms.config()) as app,
    ):
        yield app, sms


def bodies(sms):
    return [r["form"]["Body"] for r in sms.requests]


def test_reminders_fire_at_their_time_and_not_before(texting, clock, now):
    app, sms = texting
    booked = book(app, now, days=3, email_address=None)
    starts = booked["slot"].starts_at
    with app.app_context():
        assert get_queue().scheduled_job_registry.count == 0  # days away: not in Redis yet
    run_jobs(app, relay=True)
    assert len(sms.requests) == 1 and "booked" in bodies(sms)[0]

    clock.current = starts - timedelta(hours=24, seconds=1)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 1  # one second early: nothing

    clock.current = starts - timedelta(hours=24)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 2
    assert "reminder" in bodies(sms)[1] and "Thu, Mar 5, 8:00 AM" in bodies(sms)[1]

    clock.current = starts - timedelta(hours=2, seconds=1)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 2
    clock.current = starts - timedelta(hours=2)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 3 and "reminder" in bodies(sms)[2]

    run_jobs(app, relay=True)  # and never again
    sent = [(m.kind, m.payload.get("hours_before"), m.sent_at) for m in messages(app)]
    assert sent == [
        ("confirmation", None, now),
        ("reminder", 24, starts - timedelta(hours=24)),
        ("reminder", 2, starts - timedelta(hours=2)),
    ]
    assert len(sms.delivered) == 3


def test_reminders_move_with_the_appointment(texting, clock, now):
    app, sms = texting
    booked = book(app, now, days=3, email_address=None)
    old_start, new_start = booked["slot"].starts_at, booked["other_slot"].starts_at
    with app.app_context():
        assert drain_handoff() == 1  # the confirmation, as a worker's drain job would
        clock.current = old_start - timedelta(hours=24) - RELAY_HORIZON
        assert relay_outbox() == 1  # the 24-hour reminder is on RQ's schedule
        db.transaction(
            lambda s: moves.reschedule_reservation(
                s, booked["reservation_id"], booked["other_slot"].id, now=clock.current
            )
        )
        assert drain_handoff() == 1  # the notice of the move
        scheduled = get_queue().scheduled_job_registry
        assert scheduled.count == 0  # taken off the schedule; the new ones are a day away
        live = [m for m in messages(app, kind="reminder") if m.status == "queued"]
        times = sorted(m.send_after for m in live)
        assert times == [new_start - timedelta(hours=24), new_start - timedelta(hours=2)]
        clock.current = new_start - timedelta(hours=24) - RELAY_HORIZON
        assert relay_outbox() == 1
        job_ids = scheduled.get_job_ids()
        assert job_ids == [message_job_id(m.id) for m in live if m.send_after == times[0]]
        assert scheduled.get_scheduled_time(job_ids[0]) == times[0]
    run_jobs(app, relay=True)
    assert [("booked" in b, "moved" in b) for b in bodies(sms)] == [(True, False), (False, True)]

    clock.current = old_start - timedelta(hours=2)  # the old reminder times pass: silence
    run_jobs(app, relay=True)
    assert len(sms.requests) == 2
    clock.current = new_start - timedelta(hours=24)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 3 and "Fri, Mar 6, 8:00 AM" in bodies(sms)[2]
    clock.current = new_start - timedelta(hours=2)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 4 and len(sms.delivered) == 4


def test_reminders_are_dropped_when_the_appointment_is_cancelled(texting, clock, now):
    app, sms = texting
    booked = book(app, now, days=3, email_address=None)
    with app.app_context():
        db.transaction(
            lambda s: reservations.cancel_reservation(s, booked["reservation_id"], now=now)
        )
        assert get_queue().scheduled_job_registry.count == 0
        reminders = messages(app, kind="reminder")
        # A reminder job that fires anyway (say, a schedule restored from a backup) sends nothing.
        for m in reminders:
            enqueue_message(get_queue(), m.id, due_at=now, now=now)
    clock.current = booked["slot"].starts_at - timedelta(minutes=5)
    run_jobs(app)
    assert [("booked" in b, "cancelled" in b) for b in bodies(sms)] == [
        (True, False),
        (False, True),
    ]
    assert {m.status for m in messages(app, kind="reminder")} == {"cancelled"}


def test_a_reminder_for_an_appointment_no_longer_booked_is_not_sent(texting, clock, now):
    app, sms = texting
    booked = book(app, now, days=3, email_address=None)
    run_jobs(app)
    with app.app_context():
        # Changed behind the services' back: the sender checks the booking itself.
        db.session.execute(
            text("UPDATE reservation SET status = 'checked_in' WHERE id = :id"),
            {"id": booked["reservation_id"]},
        )
        db.session.commit()
    clock.current = booked["slot"].starts_at - timedelta(hours=2)
    run_jobs(app, relay=True)
    assert len(sms.requests) == 1
    reminders = messages(app, kind="reminder")
    assert {(m.status, m.last_error) for m in reminders} == {
        ("cancelled", "the appointment is no longer booked")
    }
