"""Two-dose courses on the residents' pages: dose 2 chosen with dose 1, shown, cancelled, moved.

Both or neither, as the resident sees it: a refused dose 2 leaves dose 1 unbooked and the form
again with the reason; hostile dose-2 ids are the form's error, never a 500.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from booking.db import db
from booking.models import Slot
from tests.support import (
    BOSTON,
    PFIZER_1,
    PFIZER_2,
    booking_form,
    confirmed_doses,
    csrf_from,
    make_clinic,
    make_slot,
    two_dose_product,
)
from tests.support import boston_wall as wall


def html(response):
    return response.get_data(as_text=True)


@pytest.fixture
def world(app, now):
    """Pfizer (21 to 42 days) at a clinic: dose 1 tomorrow, dose 2's default on day 21, another
    time on day 25, one past the window, one at another clinic; and a one-dose product."""
    with app.app_context():
        pfizer = two_dose_product(db.session).id
        clinic = make_clinic(db.session, now, name="Fenway Community Health")
        start = now + timedelta(days=1)
        first = make_slot(db.session, clinic, start, product_id=pfizer, capacity=2)
        second = make_slot(db.session, clinic, wall(start, 3), product_id=pfizer)
        default = make_slot(db.session, clinic, wall(start, 21), product_id=pfizer)
        later = make_slot(db.session, clinic, wall(start, 25, 2), product_id=pfizer)
        outside = make_slot(db.session, clinic, wall(start, 50), product_id=pfizer)
        single = make_slot(db.session, clinic, start + timedelta(hours=1))
        other = make_clinic(db.session, now, name="Other Pharmacy")
        elsewhere = make_slot(db.session, other, wall(start, 21), product_id=pfizer)
        db.session.commit()
        return SimpleNamespace(
            clinic=clinic.id,
            first=first.id,
            second=second.id,
            default=default.id,
            later=later.id,
            outside=outside.id,
            single=single.id,
            elsewhere=elsewhere.id,
        )


def hold(client, slot_id, **extra):
    csrf = csrf_from(html(client.get("/lookup")))
    form = {"csrf_token": csrf, "date_of_birth": "04/27/1950", **extra}
    held = client.post(f"/slots/{slot_id}/hold", data=form)
    assert held.status_code == 303, html(held)[:1000]
    return held.headers["Location"], csrf


confirmed = confirmed_doses


def book_course(client, world, dose_two=None):
    url, csrf = hold(client, world.first)
    extra = {} if dose_two is None else {"second_dose_slot_id": str(dose_two)}
    booked = client.post(url, data=booking_form(csrf, **extra))
    assert booked.status_code == 303, html(booked)[:2000]
    return csrf


def test_the_form_offers_dose_two_in_the_window_with_the_default_chosen(client, world):
    url, _ = hold(client, world.first)
    page = html(client.get(url))
    assert "between 21 and 42 days after dose 1" in page
    assert '<select id="second_dose_slot_id" name="second_dose_slot_id"' in page
    assert f'<option value="{world.default}" selected>' in page
    assert f'<option value="{world.later}">' in page
    for absent in (world.outside, world.elsewhere, world.second):
        assert f'<option value="{absent}"' not in page
    assert "Book both appointments" in page


def test_a_one_dose_product_asks_nothing_about_dose_two(client, world, app):
    url, csrf = hold(client, world.single)
    page = html(client.get(url))
    assert "second_dose_slot_id" not in page and "Book this appointment" in page
    assert client.post(url, data=booking_form(csrf)).status_code == 303
    assert [r.dose_number for r in confirmed(app)] == [1]


def test_booking_a_course_shows_both_appointments(client, world, app):
    book_course(client, world, dose_two=world.later)
    first, second = confirmed(app)
    assert (first.slot_id, second.slot_id, second.course_id) == (world.first, world.later, first.id)
    for page in (html(client.get("/confirmation")), html(client.get("/manage"))):
        assert PFIZER_1 in page and PFIZER_2 in page
    # One calendar file, one event per dose, each with its reservation's UID.
    ics = html(client.get("/confirmation/appointment.ics"))
    assert ics.count("BEGIN:VEVENT") == 2
    assert f"UID:reservation-{first.id}@" in ics and f"UID:reservation-{second.id}@" in ics
    assert "dose 2 of 2" in ics


@pytest.mark.parametrize("which", ["outside", "elsewhere", "second", "text", "negative", "huge"])
def test_a_hostile_dose_two_is_the_form_with_a_reason(client, world, app, which):
    raw = {
        "text": "abc",
        "negative": "-4",
        "huge": "99999999999",
    }.get(which) or str(getattr(world, which))
    url, csrf = hold(client, world.first)
    response = client.post(url, data=booking_form(csrf, second_dose_slot_id=raw))
    assert response.status_code == 422
    page = html(response)
    assert 'name="first_name"' in page and "dose 2" in page
    assert confirmed(app) == []  # neither dose booked
    # The hold is still there: a good choice books both.
    assert (
        client.post(
            url, data=booking_form(csrf, second_dose_slot_id=str(world.default))
        ).status_code
        == 303
    )


def test_a_dose_two_taken_meanwhile_books_neither_and_says_why(client, world, app):
    url, csrf = hold(client, world.first)
    with app.app_context():
        taken = db.session.get(Slot, world.later)
        taken.booked = taken.capacity
        db.session.commit()
    response = client.post(url, data=booking_form(csrf, second_dose_slot_id=str(world.later)))
    assert response.status_code == 409
    page = html(response)
    assert "was just taken" in page and 'name="first_name"' in page
    assert confirmed(app) == []
    assert f'<option value="{world.later}"' not in page  # no longer offered


def test_cancelling_dose_one_asks_about_dose_two(client, world, app):
    csrf = book_course(client, world)
    page = html(client.get("/manage/cancel"))
    assert "What should happen to it?" in page
    unanswered = client.post("/manage/cancel", data={"csrf_token": csrf})
    assert unanswered.status_code == 422 and "Choose what happens to dose 2." in html(unanswered)
    assert len(confirmed(app)) == 2
    both = client.post("/manage/cancel", data={"csrf_token": csrf, "dose_two": "cancel"})
    assert both.status_code == 303
    assert confirmed(app) == []


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "Enter the date dose 1 was given."),
        ("03/30/2026", "cannot be in the future"),
        ("01/01/2025", "Dose 2 of this vaccine is given from"),
    ],
)
def test_keeping_dose_two_needs_a_date_inside_the_window(client, world, app, given, reason):
    csrf = book_course(client, world)
    form = {"csrf_token": csrf, "dose_two": "keep", "dose_one_given_on": given}
    response = client.post("/manage/cancel", data=form)
    assert response.status_code == 422
    assert reason in html(response)
    assert len(confirmed(app)) == 2  # nothing changed


def test_keeping_dose_two_with_the_date_of_dose_one(client, world, app, now):
    csrf = book_course(client, world)
    # Dose 2 is 21 days after tomorrow: dose 1 given today elsewhere puts it on day 22.
    given = now.astimezone(BOSTON).date()
    form = {"csrf_token": csrf, "dose_two": "keep", "dose_one_given_on": given.strftime("%m/%d/%Y")}
    assert client.post("/manage/cancel", data=form).status_code == 303
    (kept,) = confirmed(app)
    assert (kept.dose_number, kept.prior_dose_date) == (2, given)


def test_rescheduling_dose_one_re_picks_dose_two(client, world, app):
    csrf = book_course(client, world)
    step = client.post(
        "/manage/reschedule", data={"csrf_token": csrf, "slot_id": str(world.second)}
    )
    assert step.status_code == 200
    page = html(step)
    assert "Choose a time for dose 2" in page and "between 21 and 42 days after dose 1" in page
    # The current dose 2 (day 21) is still inside the new window (days 23 to 44)? No: it is
    # before it, so it is not offered; day 25 is.
    assert f'<option value="{world.default}"' not in page
    assert f'<option value="{world.later}"' in page
    form = {"csrf_token": csrf, "slot_id": str(world.second), "step": "course"}
    bad = client.post(
        "/manage/reschedule", data={**form, "second_dose_slot_id": str(world.outside)}
    )
    assert bad.status_code == 409 and "Choose a time for dose 2" in html(bad)
    nul = client.post("/manage/reschedule", data={**form, "second_dose_slot_id": "\x00"})
    assert nul.status_code == 400  # control characters are refused before the view
    assert [r.slot_id for r in confirmed(app)] == [world.first, world.default]
    moved = client.post(
        "/manage/reschedule", data={**form, "second_dose_slot_id": str(world.later)}
    )
    assert moved.status_code == 303
    assert [r.slot_id for r in confirmed(app)] == [world.second, world.later]


def test_dose_two_only_from_the_clinic_page(client, world, app, now):
    assert "I had dose 1 elsewhere" in html(client.get(f"/clinics/{world.clinic}"))
    with app.app_context():
        pfizer = two_dose_product(db.session).id
    # Dose 1 given 20 days ago: dose 2 is due from tomorrow (day 21), which is world.first.
    given = (now.astimezone(BOSTON) - timedelta(days=20)).date()
    query = {
        "product": str(pfizer),
        "prior_dose_date": given.strftime("%m/%d/%Y"),
        "date_of_birth": "04/27/1950",
    }
    page = client.get(f"/clinics/{world.clinic}/dose-two", query_string=query)
    assert page.status_code == 200
    text = html(page)
    assert "between 21 and 42 days after dose 1" in text
    assert f"/slots/{world.first}/hold" in text and f"/slots/{world.later}/hold" not in text
    url, csrf = hold(client, world.first, prior_dose_date=query["prior_dose_date"])
    form_page = html(client.get(url))
    assert "Dose 2 only" in form_page and "second_dose_slot_id" not in form_page
    # The hold names the dose it will be before it is confirmed, never "dose 1 of 2".
    assert PFIZER_2 in form_page and PFIZER_1 not in form_page
    assert client.post(url, data=booking_form(csrf)).status_code == 303
    (booked,) = confirmed(app)
    assert (booked.dose_number, booked.prior_dose_date) == (2, given)
    assert PFIZER_2 in html(client.get("/confirmation"))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"product": "abc", "prior_dose_date": "01/01/2026"}, "Choose the vaccine"),
        ({"product": "PFIZER", "prior_dose_date": "12/31/2099"}, "cannot be in the future"),
        ({"product": "PFIZER", "prior_dose_date": ""}, "Enter the date dose 1 was given."),
    ],
)
def test_a_hostile_dose_two_only_request_is_the_form_again(client, world, app, query, field):
    with app.app_context():
        pfizer = str(two_dose_product(db.session).id)
    query = {k: (pfizer if v == "PFIZER" else v) for k, v in query.items()}
    query["date_of_birth"] = "04/27/1950"
    response = client.get(f"/clinics/{world.clinic}/dose-two", query_string=query)
    assert response.status_code == 422
    assert field in html(response)


def test_dose_two_only_lists_one_day_of_the_window_at_a_time(client, world, app, now):
    with app.app_context():
        pfizer = two_dose_product(db.session).id
    today = now.astimezone(BOSTON).date()
    # Dose 1 given 17 days ago: the window runs from day 4 (world.second) to day 25 (default).
    given = today - timedelta(days=17)
    query = {
        "product": str(pfizer),
        "prior_dose_date": given.strftime("%m/%d/%Y"),
        "date_of_birth": "04/27/1950",
    }
    url = f"/clinics/{world.clinic}/dose-two"
    first_day = html(client.get(url, query_string=query))
    assert first_day.count('<ul class="days">') == 1
    assert first_day.count('aria-current="date"') == 1
    assert f"/slots/{world.second}/hold" in first_day
    assert f"/slots/{world.default}/hold" not in first_day
    # Every day of the window is a link; the default's day shows its own time.
    default_day = (today + timedelta(days=22)).isoformat()
    assert f"date={default_day}" in first_day and first_day.count("&amp;date=") == 22
    later = html(client.get(url, query_string={**query, "date": default_day}))
    assert f"/slots/{world.default}/hold" in later and f"/slots/{world.second}/hold" not in later
    # A day outside the window falls back to the first day with a free time.
    outside = (today + timedelta(days=40)).isoformat()
    fallback = html(client.get(url, query_string={**query, "date": outside}))
    assert f"/slots/{world.second}/hold" in fallback
