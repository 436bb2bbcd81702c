"""A two-dose course's messages: both appointments, two calendar events, reminders per dose."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from booking.db import db
from booking.messages.render import Rendered, load_context, render_message
from booking.models import OutboxMessage
from booking.services import holds, moves, reservations
from booking.services.notices import NoticePolicy
from tests.support import ANSWERS, make_clinic, make_slot, person, two_dose_product

SECRET_KEY = "messages-test-secret"
BOSTON = ZoneInfo("America/New_York")
DOSE_1 = "COVID-19 vaccine (Pfizer-BioNTech), dose 1 of 2"
DOSE_2 = "COVID-19 vaccine (Pfizer-BioNTech), dose 2 of 2"
DOSE_1_ES = "Vacuna contra el COVID-19 (Pfizer-BioNTech), dosis 1 de 2"
DOSE_2_ES = "Vacuna contra el COVID-19 (Pfizer-BioNTech), dosis 2 de 2"


def wall_clock(moment, days):
    """The same time of day in Boston ``days`` later (across daylight saving)."""
    local = moment.astimezone(BOSTON).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=BOSTON).astimezone(UTC)


def _book(session, slot_id, now, locale, **kwargs):
    hold = holds.place_hold(session, slot_id, now=now, hold_minutes=10)
    return reservations.confirm_hold(
        session,
        hold.hold_token,
        person(1, email="resident@example.com"),
        now=now,
        secret_key=SECRET_KEY,
        answers=ANSWERS,
        admission_ticket=None,
        notices=NoticePolicy(locale=locale),
        **kwargs,
    )


@pytest.fixture
def course(app, now):
    """A Pfizer course booked by email and SMS: dose 1 in two days, dose 2 on day 21."""

    def book(locale="en"):
        with app.app_context():
            session = db.session
            clinic = make_clinic(session, now, name="Fenway Community Health")
            pfizer = two_dose_product(session).id
            start = now + timedelta(days=2)
            first = make_slot(session, clinic, start, product_id=pfizer, capacity=3)
            later = {
                days: make_slot(
                    session, clinic, wall_clock(start, days), product_id=pfizer, capacity=3
                )
                for days in (21, 22, 30)
            }
            next_day = make_slot(session, clinic, start + timedelta(days=1), product_id=pfizer)
            next_hour = make_slot(session, clinic, start + timedelta(hours=1), product_id=pfizer)
            done = _book(session, first.id, now, locale)
            ids = {
                "first": done.reservation.id,
                "second": done.second_dose.id,
                "slots": {days: slot.id for days, slot in later.items()},
                "first_slot": first.id,
                "next_day": next_day.id,
                "next_hour": next_hour.id,
                "clinic": clinic.id,
            }
            session.commit()
            return ids

    return book


def rendered(app, reservation_id, channel, kind="confirmation", n=-1) -> Rendered:
    with app.app_context():
        found = db.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.reservation_id == reservation_id,
                OutboxMessage.kind == kind,
                OutboxMessage.channel == channel,
            )
            .order_by(OutboxMessage.id)
        ).all()
        return render_message(load_context(db.session, found[n]), now=app.config["CLOCK"]())


def events(ics):
    return icalendar.Calendar.from_ical(ics).walk("VEVENT")


def test_the_confirmation_names_both_appointments(app, course):
    ids = course()
    email = rendered(app, ids["first"], "email")
    for part in (email.text, email.html):
        assert DOSE_1 in part and DOSE_2 in part
        assert part.count("Fenway Community Health") >= 2
    assert "Your second appointment is booked too" in email.text
    # Dose 2 on the interval day: Tuesday March 3 + 21 days = Tuesday March 25, 2026.
    assert "March 25, 2026" in email.text and "March 25, 2026" in email.html
    sms = rendered(app, ids["first"], "sms")
    assert DOSE_1 in sms.text and "Dose 2: " in sms.text
    # Plain GSM text: two concatenated segments carry 306 characters.
    assert sms.text.isascii() and len(sms.text) <= 306, (len(sms.text), sms.text)


def test_the_calendar_file_has_one_event_per_dose(app, course):
    ids = course()
    email = rendered(app, ids["first"], "email")
    first, second = events(email.ics)
    assert str(first["UID"]).startswith(f"reservation-{ids['first']}@")
    assert str(second["UID"]).startswith(f"reservation-{ids['second']}@")
    assert DOSE_1 in str(first["SUMMARY"]) and DOSE_2 in str(second["SUMMARY"])
    assert second["DTSTART"].dt - first["DTSTART"].dt >= timedelta(days=21) - timedelta(hours=1)
    assert [str(e["STATUS"]) for e in (first, second)] == ["CONFIRMED", "CONFIRMED"]
    assert [int(e["SEQUENCE"]) for e in (first, second)] == [0, 0]
    assert icalendar.Calendar.from_ical(email.ics)["METHOD"] == "PUBLISH"


def test_a_one_dose_booking_keeps_one_event(app, now):
    from tests.jobs.support import book

    booked = book(app, now)
    email = rendered(app, booked["reservation_id"], "email")
    assert len(events(email.ics)) == 1
    assert "second appointment" not in email.text and "Dose 2" not in email.text


def test_a_course_in_spanish(app, course):
    ids = course("es")
    email = rendered(app, ids["first"], "email")
    for part in (email.text, email.html):
        assert DOSE_1_ES in part and DOSE_2_ES in part
    assert "Su segunda cita también está reservada" in email.text
    _, second = events(email.ics)
    assert DOSE_2_ES in str(second["SUMMARY"])
    sms = rendered(app, ids["first"], "sms")
    assert DOSE_1_ES in sms.text and "Dosis 2: " in sms.text


def test_reminders_say_which_dose(app, course):
    ids = course()
    first = rendered(app, ids["first"], "email", kind="reminder")
    second = rendered(app, ids["second"], "email", kind="reminder")
    assert DOSE_1 in first.subject and DOSE_1 in first.text
    assert DOSE_2 in second.subject and DOSE_2 in second.text and DOSE_1 not in second.text
    assert DOSE_2 in rendered(app, ids["second"], "sms", kind="reminder").text


def _reschedule(app, ids, slot_id, now, **kwargs):
    with app.app_context():
        moves.reschedule_reservation(db.session, ids["first"], slot_id, now=now, **kwargs)
        db.session.commit()


def _cancel(app, ids, now, **kwargs):
    with app.app_context():
        reservations.cancel_reservation(db.session, ids["first"], now=now, **kwargs)
        db.session.commit()


def test_a_course_moved_together_updates_both_events(app, course, now):
    ids = course()
    _reschedule(app, ids, ids["next_day"], now, second_dose_slot_id=ids["slots"][22])
    email = rendered(app, ids["first"], "email", kind="reschedule")
    assert "Your second appointment has moved too" in email.text
    assert "March 25, 2026" in email.text  # where dose 2 was before
    assert "March 26, 2026" in email.text and "March 26, 2026" in email.html
    first, second = events(email.ics)
    assert [str(e["UID"]).split("@")[0] for e in (first, second)] == [
        f"reservation-{ids['first']}",
        f"reservation-{ids['second']}",
    ]
    # Both outrank the confirmation's events (SEQUENCE 0).
    assert int(first["SEQUENCE"]) == 1 and int(second["SEQUENCE"]) == 1
    assert "Dose 2 moved to" in rendered(app, ids["first"], "sms", kind="reschedule").text
    # Dose 2's new reminders name dose 2 and its new day.
    reminder = rendered(app, ids["second"], "email", kind="reminder")
    assert DOSE_2 in reminder.text and "March 26, 2026" in reminder.text


def test_a_move_that_keeps_dose_two_says_so(app, course, now):
    ids = course()
    _reschedule(app, ids, ids["next_hour"], now)
    email = rendered(app, ids["first"], "email", kind="reschedule")
    assert "Your second appointment has not changed" in email.text
    assert "March 25, 2026" in email.text
    first, second = events(email.ics)
    assert int(first["SEQUENCE"]) == 1 and str(second["STATUS"]) == "CONFIRMED"
    assert "Dose 2 unchanged" in rendered(app, ids["first"], "sms", kind="reschedule").text


def test_cancelling_a_course_cancels_both_events(app, course, now):
    ids = course()
    _cancel(app, ids, now)
    email = rendered(app, ids["first"], "email", kind="cancellation")
    assert "Your appointments on" in email.subject and "are cancelled" in email.subject
    assert "is cancelled too" in email.text and DOSE_2 in email.html
    first, second = events(email.ics)
    assert [str(e["STATUS"]) for e in (first, second)] == ["CANCELLED", "CANCELLED"]
    # Each ends one above the revision it was published with.
    assert [int(e["SEQUENCE"]) for e in (first, second)] == [1, 1]
    sms = rendered(app, ids["first"], "sms", kind="cancellation")
    assert "is cancelled too" in sms.text and len(sms.text) <= 306


def test_dose_one_given_elsewhere_keeps_dose_two_in_the_message(app, course, now):
    ids = course()
    _cancel(app, ids, now, dose_one_given_on=now.astimezone(BOSTON).date() - timedelta(days=1))
    email = rendered(app, ids["first"], "email", kind="cancellation")
    assert "stays booked" in email.text
    first, second = events(email.ics)
    assert (str(first["STATUS"]), str(second["STATUS"])) == ("CANCELLED", "CONFIRMED")
    assert "stays booked" in rendered(app, ids["first"], "sms", kind="cancellation").text
