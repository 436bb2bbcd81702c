"""Two-dose courses: dose 2 booked, moved and cancelled with dose 1, both or neither."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from booking.models import OutboxMessage, Reservation, Slot
from booking.services import courses, holds, moves, reservations
from booking.services.errors import AlreadyBooked, InvalidInput, SlotFull
from tests.services.course_world import PFIZER_MAX, PFIZER_MIN, SECRET, book, counts, wall_clock
from tests.support import ANSWERS, make_clinic, make_slot, person, two_dose_product


def test_dose_one_books_dose_two_on_the_interval_day_by_default(session, now, course):
    _, first, seconds = course
    done = book(session, first.id, now)
    second = done.second_dose
    assert second is not None and second.slot_id == seconds[PFIZER_MIN].id
    assert (second.dose_number, second.course_id, second.status) == (
        2,
        done.reservation.id,
        "confirmed",
    )
    assert second.confirmation_code != done.reservation.confirmation_code
    assert second.person_key == done.reservation.person_key
    assert counts(session, first.id) == (0, 1)
    assert counts(session, seconds[PFIZER_MIN].id) == (0, 1)
    # One confirmation names both; each dose has its own reminders.
    messages = session.scalars(select(OutboxMessage)).all()
    confirmation = [m for m in messages if m.kind == "confirmation"]
    assert len(confirmation) == 1
    assert confirmation[0].payload["second_dose"]["slot_id"] == seconds[PFIZER_MIN].id
    assert {m.reservation_id for m in messages if m.kind == "reminder"} == {
        done.reservation.id,
        second.id,
    }


def test_a_chosen_dose_two_time_inside_the_window(session, now, course):
    _, first, seconds = course
    done = book(session, first.id, now, second_dose_slot_id=seconds[PFIZER_MAX].id)
    assert done.second_dose.slot_id == seconds[PFIZER_MAX].id


@pytest.mark.parametrize("days", [PFIZER_MIN - 1, PFIZER_MAX + 1])
def test_a_day_too_early_or_too_late_is_refused_and_nothing_is_booked(session, now, course, days):
    _, first, seconds = course
    with pytest.raises(InvalidInput) as refused:
        book(session, first.id, now, second_dose_slot_id=seconds[days].id)
    assert "second_dose_slot_id" in refused.value.errors
    assert counts(session, first.id) == (1, 0)  # the hold stands, dose 1 is not booked
    assert counts(session, seconds[days].id) == (0, 0)


def test_without_room_on_the_default_day_a_time_must_be_chosen(session, now, course):
    _, first, seconds = course
    session.execute(
        Slot.__table__.update().where(Slot.id == seconds[PFIZER_MIN].id).values(booked=2)
    )
    with pytest.raises(InvalidInput) as refused:
        book(session, first.id, now)
    assert "must be chosen" in refused.value.detail
    assert counts(session, first.id) == (1, 0)
    options = courses.second_dose_options(session, first, now=now)
    assert seconds[PFIZER_MIN].id not in {s.id for s in options}
    assert {s.id for s in options} == {seconds[d].id for d in range(PFIZER_MIN + 1, PFIZER_MAX + 1)}


def test_dose_two_filling_between_form_and_confirm_books_neither(session, now, course):
    _, first, seconds = course
    chosen = seconds[30]
    session.execute(Slot.__table__.update().where(Slot.id == chosen.id).values(booked=2))
    with pytest.raises(SlotFull) as refused:
        book(session, first.id, now, second_dose_slot_id=chosen.id)
    assert "dose 2" in refused.value.detail
    assert counts(session, first.id) == (1, 0)
    assert session.scalars(select(Reservation).where(Reservation.status == "confirmed")).all() == []


def test_another_clinic_or_product_for_dose_two_is_refused(session, now, course):
    _, first, _ = course
    other_clinic = make_clinic(session, now)
    pfizer = two_dose_product(session).id
    moderna = two_dose_product(session, "moderna-covid19").id
    elsewhere = make_slot(
        session, other_clinic, first.starts_at + timedelta(days=25), product_id=pfizer
    )
    clinic = session.get(type(other_clinic), first.clinic_id)
    other_product = make_slot(
        session, clinic, first.starts_at + timedelta(days=25, minutes=5), product_id=moderna
    )
    for slot_id in (elsewhere.id, other_product.id):
        with pytest.raises(InvalidInput):
            book(session, first.id, now, second_dose_slot_id=slot_id)
    assert counts(session, elsewhere.id) == (0, 0)
    assert counts(session, other_product.id) == (0, 0)


@pytest.mark.parametrize("hostile", ["12", "\x00", -1, 0, 2**40, True, 1.5, None])
def test_hostile_dose_two_ids_are_refused_cleanly(session, now, course, hostile):
    _, first, _ = course
    if hostile is None:
        return  # None is the default choice, tested above
    with pytest.raises(InvalidInput):
        book(session, first.id, now, second_dose_slot_id=hostile)
    assert counts(session, first.id) == (1, 0)


def test_a_one_dose_booking_has_no_dose_two(session, now):
    clinic = make_clinic(session, now)
    single = make_slot(session, clinic, now + timedelta(days=2))
    done = book(session, single.id, now)
    assert done.second_dose is None
    other = make_slot(session, clinic, now + timedelta(days=3))
    with pytest.raises(InvalidInput):
        book(session, other.id, now, n=2, second_dose_slot_id=single.id)


def test_dose_two_only_inside_the_window_from_dose_one_elsewhere(session, now, course):
    _, _, seconds = course
    slot = seconds[25]  # 27 days from now: dose 1 given 6 to -15 days from today fits
    # Dose 1 cannot be in the future, nor so long ago that dose 2 would be too late.
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    for bad in (now.date() + timedelta(days=1), now.date() - timedelta(days=16)):
        with pytest.raises(InvalidInput) as refused:
            reservations.confirm_hold(
                session,
                hold.hold_token,
                person(1),
                answers=ANSWERS,
                admission_ticket=None,
                now=now,
                secret_key=SECRET,
                prior_dose_date=bad,
            )
        assert set(refused.value.errors) <= {"prior_dose_date", "second_dose_slot_id"}
    assert counts(session, slot.id) == (1, 0)  # still held, nothing booked
    done = reservations.confirm_hold(
        session,
        hold.hold_token,
        person(1),
        answers=ANSWERS,
        admission_ticket=None,
        now=now,
        secret_key=SECRET,
        prior_dose_date=now.date(),
    )
    assert (done.reservation.dose_number, done.reservation.prior_dose_date) == (2, now.date())
    assert done.second_dose is None
    # Dose 2 only is one booking of dose 2: a second dose 2 for the person is refused.
    with pytest.raises(AlreadyBooked):
        book(session, seconds[26].id, now, prior_dose_date=now.date())


def test_one_person_may_hold_dose_one_and_dose_two_but_not_two_courses(session, now, course):
    _, first, seconds = course
    book(session, first.id, now)
    with pytest.raises(AlreadyBooked):
        book(session, seconds[30].id, now)  # a second dose 1 for the same person


def test_cancelling_dose_one_cancels_dose_two(session, now, course):
    _, first, seconds = course
    done = book(session, first.id, now)
    reservations.cancel_reservation(session, done.reservation.id, now=now)
    second = session.get(Reservation, done.second_dose.id, populate_existing=True)
    assert second.status == "cancelled"
    assert counts(session, first.id) == (0, 0)
    assert counts(session, seconds[PFIZER_MIN].id) == (0, 0)
    cancellation = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "cancellation")
    ).one()
    assert cancellation.payload["second_dose"]["slot_id"] == seconds[PFIZER_MIN].id
    waiting = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "reminder", OutboxMessage.status == "queued"
        )
    ).all()
    assert waiting == []


def test_cancelling_dose_one_keeps_dose_two_only_with_dose_one_given_elsewhere(
    session, now, course
):
    _, first, seconds = course
    done = book(session, first.id, now)
    # Dose 2 (23 days from now) would be too late after a dose 1 given 30 days ago.
    with pytest.raises(InvalidInput):
        reservations.cancel_reservation(
            session, done.reservation.id, now=now, dose_one_given_on=now.date() - timedelta(days=30)
        )
    reservations.cancel_reservation(
        session, done.reservation.id, now=now, dose_one_given_on=now.date()
    )
    second = session.get(Reservation, done.second_dose.id, populate_existing=True)
    assert (second.status, second.prior_dose_date) == ("confirmed", now.date())
    assert counts(session, seconds[PFIZER_MIN].id) == (0, 1)


def test_rescheduling_dose_one_moves_dose_two_into_the_new_window(session, now, course):
    clinic, first, seconds = course
    done = book(session, first.id, now)
    pfizer = two_dose_product(session).id
    # Two weeks later: day 21 of the old window is now too early for dose 2.
    later = make_slot(session, clinic, wall_clock(first, 14), product_id=pfizer)
    moves.reschedule_reservation(session, done.reservation.id, later.id, now=now)
    second = session.get(Reservation, done.second_dose.id, populate_existing=True)
    assert second.slot_id == seconds[14 + PFIZER_MIN].id
    assert counts(session, seconds[PFIZER_MIN].id) == (0, 0)
    assert counts(session, seconds[14 + PFIZER_MIN].id) == (0, 1)
    # A small move keeps dose 2 where it is while it still fits the window.
    nearby = make_slot(session, clinic, later.starts_at + timedelta(days=1), product_id=pfizer)
    moves.reschedule_reservation(session, done.reservation.id, nearby.id, now=now)
    assert session.get(Reservation, second.id, populate_existing=True).slot_id == second.slot_id


def test_rescheduling_dose_one_without_room_for_dose_two_moves_neither(session, now, course):
    clinic, first, seconds = course
    done = book(session, first.id, now)
    pfizer = two_dose_product(session).id
    later = make_slot(session, clinic, wall_clock(first, 14), product_id=pfizer)
    session.execute(
        Slot.__table__.update().where(Slot.id == seconds[14 + PFIZER_MIN].id).values(booked=2)
    )
    with session.begin_nested() as attempt:
        with pytest.raises(InvalidInput):
            moves.reschedule_reservation(session, done.reservation.id, later.id, now=now)
        attempt.rollback()  # what db.transaction does with the error
    assert session.get(Reservation, done.reservation.id, populate_existing=True).slot_id == first.id
    assert counts(session, later.id) == (0, 0)


def test_dose_two_moves_only_inside_its_window(session, now, course):
    _, first, seconds = course
    done = book(session, first.id, now)
    with pytest.raises(InvalidInput):
        moves.reschedule_reservation(
            session, done.second_dose.id, seconds[PFIZER_MAX + 1].id, now=now
        )
    moves.reschedule_reservation(session, done.second_dose.id, seconds[30].id, now=now)
    assert counts(session, seconds[30].id) == (0, 1)


def test_the_window_in_days(session):
    product = two_dose_product(session)
    assert courses.window(product, date(2026, 3, 4)) == (date(2026, 3, 25), date(2026, 4, 15))
    assert "2026-03-25" in courses.describe_window(product, date(2026, 3, 4))
