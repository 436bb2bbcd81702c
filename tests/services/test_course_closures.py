"""A clinic closing a day of a course: dose 2 never stands without its dose 1."""

from __future__ import annotations

from sqlalchemy import select

from booking.models import OutboxMessage, Reservation
from booking.services import closures
from tests.services.course_world import PFIZER_MIN, book, counts


def statuses(session):
    rows = session.scalars(select(Reservation).order_by(Reservation.id)).all()
    return [(r.dose_number, r.status) for r in rows]


def test_closing_dose_ones_day_cancels_the_course_with_one_notice(session, now, course):
    _, first, seconds = course
    done = book(session, first.id, now)
    report = closures.cancel_slots(session, [first.id], now=now, reason="Power cut")
    assert statuses(session) == [(1, "cancelled"), (2, "cancelled")]
    assert report.bookings_cancelled == 2
    assert counts(session, first.id) == (0, 0)
    assert counts(session, seconds[PFIZER_MIN].id) == (0, 0)
    # One clinic-cancellation notice for the course, naming dose 2; no reminder of either left.
    messages = session.scalars(select(OutboxMessage)).all()
    notices = [m for m in messages if m.kind == "clinic_cancellation"]
    assert len(notices) == 1 and notices[0].reservation_id == done.reservation.id
    assert notices[0].payload["second_dose"]["slot_id"] == seconds[PFIZER_MIN].id
    waiting = [m for m in messages if m.kind == "reminder" and m.status == "queued"]
    assert waiting == []


def test_closing_both_days_at_once_cancels_each_dose_once(session, now, course):
    _, first, seconds = course
    book(session, first.id, now)
    both = [seconds[PFIZER_MIN].id, first.id]
    report = closures.cancel_slots(session, both, now=now)
    assert statuses(session) == [(1, "cancelled"), (2, "cancelled")]
    assert report.bookings_cancelled == 2
    assert counts(session, seconds[PFIZER_MIN].id) == (0, 0)
    kinds = [m.kind for m in session.scalars(select(OutboxMessage))]
    assert kinds.count("clinic_cancellation") == 1


def test_closing_dose_twos_day_leaves_dose_one(session, now, course):
    _, first, seconds = course
    book(session, first.id, now)
    report = closures.cancel_slots(session, [seconds[PFIZER_MIN].id], now=now)
    assert statuses(session) == [(1, "confirmed"), (2, "cancelled")]
    assert report.bookings_cancelled == 1
    assert counts(session, first.id) == (0, 1)
