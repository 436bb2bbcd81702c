"""The schedule console's dose-2 panel: how far ahead to schedule, the warning, places booked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.db import db
from booking.models import Clinic
from booking.services import dose_two, holds, reservations
from tests.staff.clinic_support import BOSTON, build_world, client_for
from tests.support import ANSWERS, make_slot, person, two_dose_product

PFIZER = "COVID-19 vaccine (Pfizer-BioNTech)"


def wall_clock(moment, days):
    local = moment.astimezone(BOSTON).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=BOSTON)


@pytest.fixture
def world(app, clock):
    """build_world's clinics, and at "Mine" a Pfizer course booked twice: dose 1 in two days,
    dose 2 three weeks later (both in the same week)."""
    ids = build_world(app, clock)
    with app.app_context():
        s = db.session
        mine = s.get(Clinic, ids["mine"])
        pfizer = two_dose_product(s).id
        start = clock() + timedelta(days=2)
        first = make_slot(s, mine, start, product_id=pfizer, capacity=4)
        last = make_slot(s, mine, wall_clock(start, 21), product_id=pfizer, capacity=4)
        for n in range(2):
            hold = holds.place_hold(s, first.id, now=clock(), hold_minutes=10)
            done = reservations.confirm_hold(
                s,
                hold.hold_token,
                person(10 + n),
                now=clock(),
                secret_key="k",
                answers=ANSWERS,
                admission_ticket=None,
            )
            assert done.second_dose is not None and done.second_dose.slot_id == last.id
        s.commit()
        ids.update(pfizer=pfizer, last_day=last.starts_at.astimezone(BOSTON).date())
    return ids


def test_the_outlook_counts_from_the_booking_horizon_and_the_latest_interval(app, world, clock):
    with app.app_context():
        clinic = db.session.get(Clinic, world["mine"])
        seen = dose_two.outlook(db.session, clinic, now=clock(), booking_days=14)
        today = clock().astimezone(BOSTON).date()
        # Pfizer: dose 1 up to 14 days ahead, dose 2 up to 42 days after it.
        assert seen.needed_until == today + timedelta(days=14 + 42)
        (row,) = seen.products  # the one-dose slots of build_world are not a course
        assert row.product.id == world["pfizer"]
        assert row.scheduled_until == world["last_day"] and row.short
        monday = world["last_day"] - timedelta(days=world["last_day"].weekday())
        assert row.weeks == [(monday, 2)] and row.booked == 2


def test_the_schedule_page_says_how_far_ahead_and_warns(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    page = manager.get(f"/clinic/{world['mine']}/schedule").get_data(as_text=True)
    days = app.config["BOOKING_DAYS"]
    needed = clock().astimezone(BOSTON).date() + timedelta(days=days + 42)
    assert "Places for dose 2" in page
    assert f"up to {days} days ahead" in page and "up to 42 days after dose 1" in page
    assert needed.strftime("%B %-d, %Y") in page
    assert f"{PFIZER}: slots end on {world['last_day'].strftime('%B %-d, %Y')}" in page
    assert "Dose 2 places booked" in page and "<td>2</td>" in page


def test_no_warning_once_the_slots_reach_the_date(app, world, clock):
    days = app.config["BOOKING_DAYS"]
    with app.app_context():
        clinic = db.session.get(Clinic, world["mine"])
        make_slot(
            db.session,
            clinic,
            wall_clock(clock(), days + 42),
            product_id=world["pfizer"],
        )
        db.session.commit()
    manager = client_for(app, clock, "clinic_manager")
    page = manager.get(f"/clinic/{world['mine']}/schedule").get_data(as_text=True)
    assert "Places for dose 2" in page and "slots end on" not in page
    assert 'role="alert"' not in page


def test_a_clinic_without_a_course_shows_no_panel(app, world, clock):
    with app.app_context():
        other = db.session.get(Clinic, world["other"])
        assert dose_two.outlook(db.session, other, now=clock(), booking_days=14).products == []


def test_a_retired_product_leaves_the_panel(app, world, clock):
    from booking.services import products

    with app.app_context():
        products.set_active(db.session, world["pfizer"], False)
        db.session.commit()
        clinic = db.session.get(Clinic, world["mine"])
        assert dose_two.outlook(db.session, clinic, now=clock(), booking_days=14).products == []
    manager = client_for(app, clock, "clinic_manager")
    assert "Places for dose 2" not in manager.get(f"/clinic/{world['mine']}/schedule").text
