"""The outbox rows: written with the booking change, in its transaction, and enqueued after it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from booking.db import db
from booking.jobs.handoff import DRAIN
from booking.jobs.queue import RELAY_HORIZON, get_queue, message_job_id
from booking.jobs.tasks import drain_handoff, relay_outbox
from booking.services import closures, holds, moves, reservations
from booking.services.notices import SILENT, NoticePolicy
from tests.jobs.support import book, handed_off, messages, run_jobs
from tests.support import ANSWERS, make_clinic, make_slot, person

SECRET = "outbox-test-secret"


def kinds(rows):
    return sorted((m.kind, m.channel, m.status) for m in rows)


def test_a_booking_writes_its_confirmation_and_reminders_per_chosen_channel(app, clock, now):
    booked = book(app, now, days=3)
    rows = messages(app)
    assert kinds(rows) == [
        ("confirmation", "email", "queued"),
        ("confirmation", "sms", "queued"),
        ("reminder", "email", "queued"),
        ("reminder", "email", "queued"),
        ("reminder", "sms", "queued"),
        ("reminder", "sms", "queued"),
    ]
    starts = booked["slot"].starts_at
    reminders = sorted({m.send_after for m in rows if m.kind == "reminder"})
    assert reminders == [starts - timedelta(hours=24), starts - timedelta(hours=2)]
    assert {m.recipient for m in rows} == {"resident@example.com", "+16175550123"}
    # After the commit: the confirmations' ids handed off, and one drain job on the queue, which
    # enqueues them by outbox id. The reminders, days away, wait in the outbox; the relay puts
    # each on RQ's schedule once it is 15 minutes away.
    with app.app_context():
        queue = get_queue()
        confirmations = [m.id for m in rows if m.kind == "confirmation"]
        assert handed_off(app) == [str(i) for i in confirmations]
        assert [job.func_name for job in queue.get_jobs()] == [DRAIN]
        assert drain_handoff() == 2
        sends = sorted(message_job_id(i) for i in confirmations)
        assert sorted(queue.job_ids) == sorted([*sends, queue.job_ids[0]])
        scheduled = queue.scheduled_job_registry
        assert scheduled.count == 0
        clock.current = reminders[0] - RELAY_HORIZON
        assert relay_outbox() == 2  # the 24-hour reminder, by email and SMS
        for m in rows:
            if m.kind == "reminder" and m.send_after == reminders[0]:
                at = scheduled.get_scheduled_time(message_job_id(m.id))
                assert at == m.send_after
        assert scheduled.count == 2


def test_a_reminder_due_within_the_relay_horizon_is_scheduled_at_the_commit(app, now):
    booked = book(app, now, days=(2 * 60 + 10) / (24 * 60), phone=None)  # 2 h 10 min ahead
    (reminder,) = messages(app, kind="reminder")
    assert reminder.send_after == booked["slot"].starts_at - timedelta(hours=2)
    with app.app_context():
        assert f"{reminder.id}@{reminder.send_after.isoformat()}" in handed_off(app)
        drain_handoff()
        scheduled = get_queue().scheduled_job_registry
        assert scheduled.get_job_ids() == [message_job_id(reminder.id)]
        assert scheduled.get_scheduled_time(message_job_id(reminder.id)) == reminder.send_after


def test_only_the_channels_the_resident_gave_are_used(app, now):
    book(app, now, email_address=None, phone="+16175550199")
    assert {m.channel for m in messages(app)} == {"sms"}


def test_a_booking_close_to_its_time_gets_only_the_reminders_still_ahead(app, now):
    book(app, now, days=0.5)  # 12 hours ahead: no 24-hour reminder
    reminders = [m for m in messages(app) if m.kind == "reminder"]
    assert {m.payload["hours_before"] for m in reminders} == {2}


def test_a_rolled_back_booking_writes_and_enqueues_nothing(app, now):
    class Boom(Exception):
        pass

    with app.app_context():
        slot_id = db.transaction(
            lambda s: make_slot(s, make_clinic(s, now), now + timedelta(days=2)).id
        )

        def work(session):
            hold = holds.place_hold(session, slot_id, now=now, hold_minutes=10)
            reservations.confirm_hold(
                session,
                hold.hold_token,
                person(2),
                now=now,
                secret_key=SECRET,
                answers=ANSWERS,
                admission_ticket=None,
            )
            session.flush()
            assert session.scalar(text("SELECT count(*) FROM outbox_message")) == 3
            raise Boom  # e.g. the response could not be built: the whole unit rolls back

        with pytest.raises(Boom):
            db.transaction(work)
        queue = get_queue()
        assert queue.count == 0 and queue.scheduled_job_registry.count == 0
    assert handed_off(app) == []
    assert messages(app) == []
    assert run_jobs(app) is False  # and no worker finds anything to send


def test_a_retried_transaction_enqueues_only_what_finally_committed(app, now):
    with app.app_context():
        slot_id = db.transaction(
            lambda s: make_slot(s, make_clinic(s, now), now + timedelta(days=2)).id
        )
        attempts = []

        def work(session):
            hold = holds.place_hold(session, slot_id, now=now, hold_minutes=10)
            reservations.confirm_hold(
                session,
                hold.hold_token,
                person(3),
                now=now,
                secret_key=SECRET,
                answers=ANSWERS,
                admission_ticket=None,
            )
            attempts.append(1)
            if len(attempts) == 1:
                # What SQLite reports under writer contention: the unit is run again.
                raise OperationalError("COMMIT", {}, Exception("database is locked"))

        db.transaction(work)
        assert len(attempts) == 2
        rows = messages(app)
        handed = handed_off(app)
    confirmation = [m for m in rows if m.kind == "confirmation"]
    assert len(confirmation) == 1
    assert handed == [str(confirmation[0].id)]


def test_cancelling_cancels_the_reminders_and_writes_a_notice(app, now):
    booked = book(app, now, phone=None)
    with app.app_context():
        db.transaction(
            lambda s: reservations.cancel_reservation(s, booked["reservation_id"], now=now)
        )
        db.transaction(  # twice is harmless and writes nothing more
            lambda s: reservations.cancel_reservation(s, booked["reservation_id"], now=now)
        )
        scheduled = get_queue().scheduled_job_registry.get_job_ids()
    rows = messages(app)
    assert kinds(rows) == [
        ("cancellation", "email", "queued"),
        ("confirmation", "email", "queued"),
        ("reminder", "email", "cancelled"),
        ("reminder", "email", "cancelled"),
    ]
    assert scheduled == []  # the reminders' jobs were taken off RQ's schedule too


def test_moving_writes_a_notice_and_new_reminders_with_a_new_revision(app, now):
    booked = book(app, now, phone=None)
    target = booked["other_slot"]
    with app.app_context():
        db.transaction(
            lambda s: moves.reschedule_reservation(s, booked["reservation_id"], target.id, now=now)
        )
        # And back again: a new revision, so the notices do not collide with the first ones.
        db.transaction(
            lambda s: moves.reschedule_reservation(
                s, booked["reservation_id"], booked["slot"].id, now=now
            )
        )
    rows = messages(app)
    live = [(m.kind, m.revision, m.payload["slot_id"]) for m in rows if m.status == "queued"]
    slot_id, other_id = booked["slot"].id, target.id
    assert sorted(live) == [
        ("confirmation", 0, slot_id),
        ("reminder", 2, slot_id),
        ("reminder", 2, slot_id),
        ("reschedule", 1, other_id),
        ("reschedule", 2, slot_id),
    ]
    moved = next(m for m in rows if m.kind == "reschedule" and m.revision == 1)
    assert moved.payload["previous_slot_id"] == slot_id
    assert sum(m.status == "cancelled" for m in rows) == 4  # both earlier reminder pairs


def test_the_resident_language_is_kept_for_later_notices(app, now):
    with app.app_context():
        slot_id = db.transaction(
            lambda s: make_slot(s, make_clinic(s, now), now + timedelta(days=2)).id
        )

        def confirm(session):
            hold = holds.place_hold(session, slot_id, now=now, hold_minutes=10)
            policy = NoticePolicy(locale="es", reminder_hours=())
            done = reservations.confirm_hold(
                session,
                hold.hold_token,
                person(4),
                now=now,
                secret_key=SECRET,
                notices=policy,
                answers=ANSWERS,
                admission_ticket=None,
            )
            return done.reservation.id

        reservation_id = db.transaction(confirm)
        db.transaction(lambda s: reservations.cancel_reservation(s, reservation_id, now=now))
    assert {(m.kind, m.locale) for m in messages(app)} == {
        ("confirmation", "es"),
        ("cancellation", "es"),
    }


def test_silent_bookings_write_no_messages(app, now):
    with app.app_context():

        def work(session):
            slot = make_slot(session, make_clinic(session, now), now + timedelta(days=2))
            hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
            reservations.confirm_hold(
                session,
                hold.hold_token,
                person(5),
                now=now,
                secret_key=SECRET,
                notices=SILENT,
                answers=ANSWERS,
                admission_ticket=None,
            )

        db.transaction(work)
    assert messages(app) == []


def test_a_clinic_cancelling_a_day_notifies_everyone_booked_that_day(app, now):
    with app.app_context():

        def setup(session):
            clinic = make_clinic(session, now)
            day = now + timedelta(days=2)
            slots = [make_slot(session, clinic, day + timedelta(hours=h)) for h in (0, 1)]
            later = make_slot(session, clinic, now + timedelta(days=3))
            ids = []
            for n, slot in enumerate([*slots, slots[0], later]):
                hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
                done = reservations.confirm_hold(
                    session,
                    hold.hold_token,
                    person(10 + n),
                    now=now,
                    secret_key=SECRET,
                    answers=ANSWERS,
                    admission_ticket=None,
                )
                ids.append(done.reservation.id)
            holds.place_hold(session, slots[1].id, now=now, hold_minutes=10)  # a live hold too
            return clinic.id, ids, [s.id for s in slots], later.id

        clinic_id, ids, day_slots, later_id = db.transaction(setup)
        local_day = (now + timedelta(days=2)).astimezone(ZoneInfo("America/New_York")).date()
        report = db.transaction(
            lambda s: closures.cancel_clinic_day(
                s, clinic_id, local_day, now=now, reason="a power cut"
            )
        )
        counters = db.session.execute(
            text("SELECT id, held, booked, is_open FROM slot WHERE clinic_id = :c ORDER BY id"),
            {"c": clinic_id},
        ).all()
        db.session.rollback()
    assert (report.slots_closed, report.bookings_cancelled, report.holds_released) == (2, 3, 1)
    notices = [m for m in messages(app) if m.kind == "clinic_cancellation"]
    assert sorted(m.reservation_id for m in notices) == sorted(ids[:3])
    assert {m.payload["reason"] for m in notices} == {"a power cut"}
    by_id = {row.id: row for row in counters}
    assert all(
        (by_id[i].held, by_id[i].booked, bool(by_id[i].is_open)) == (0, 0, False) for i in day_slots
    )
    assert (by_id[later_id].booked, bool(by_id[later_id].is_open)) == (1, True)


def test_the_database_refuses_a_second_message_for_one_event(app, now):
    book(app, now, phone=None)
    first = messages(app)[0]
    with app.app_context():
        copy = (
            "INSERT INTO outbox_message (reservation_id, kind, channel, recipient, locale, "
            "revision, dedupe_key, payload, status, attempts, send_after, next_attempt_at, "
            "created_at, updated_at) SELECT reservation_id, kind, channel, recipient, locale, "
            "revision, {key}, payload, status, attempts, send_after, next_attempt_at, "
            "created_at, updated_at FROM outbox_message WHERE id = :id"
        )
        with pytest.raises(IntegrityError) as refused, db.session.begin_nested():
            db.session.execute(text(copy.format(key="dedupe_key")), {"id": first.id})
        assert "dedupe_key" in str(refused.value.orig)
        # Control: the same row under another key is accepted.
        with db.session.begin_nested():
            db.session.execute(text(copy.format(key="'another-key'")), {"id": first.id})
        db.session.rollback()


def test_the_cancel_appointments_command_closes_a_slot_and_tells_the_residents(app, now):
    booked = book(app, now, phone=None)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["cancel-appointments", "--reason", "flood"])
    assert refused.exit_code == 2 and "--slot" in refused.output
    slot_id = str(booked["slot"].id)
    result = runner.invoke(args=["cancel-appointments", "--slot", slot_id, "--reason", "flood"])
    assert result.exit_code == 0, result.output
    assert "Closed 1 slots, cancelled 1 bookings" in result.output
    (notice,) = messages(app, kind="clinic_cancellation")
    assert (notice.channel, notice.payload["reason"]) == ("email", "flood")
