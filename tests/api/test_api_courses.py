"""Two-dose courses through the JSON API: dose 2's times, the confirm answer, look-up,
cancelling with or without dose 2, and moving a booking (a course together)."""

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
    confirmed_doses,
    make_clinic,
    make_slot,
    person,
    person_json,
    two_dose_product,
)
from tests.support import boston_wall as wall


@pytest.fixture
def world(app, now):
    """Pfizer at a clinic: dose 1 tomorrow and on day 3; dose 2's default on day 21, another
    time on day 25, one past the window; a one-dose slot; Pfizer at a second clinic."""
    with app.app_context():
        s = db.session
        pfizer = two_dose_product(s).id
        clinic = make_clinic(s, now, name="Fenway Community Health")
        start = now + timedelta(days=1)
        slots = SimpleNamespace(
            first=make_slot(s, clinic, start, product_id=pfizer, capacity=2).id,
            moved=make_slot(s, clinic, wall(start, 3), product_id=pfizer).id,
            default=make_slot(s, clinic, wall(start, 21), product_id=pfizer).id,
            later=make_slot(s, clinic, wall(start, 25, 2), product_id=pfizer).id,
            outside=make_slot(s, clinic, wall(start, 50), product_id=pfizer).id,
            single=make_slot(s, clinic, start + timedelta(hours=1)).id,
        )
        other = make_clinic(s, now, name="Other Pharmacy")
        slots.elsewhere = make_slot(s, other, wall(start, 2), product_id=pfizer).id
        slots.elsewhere_two = make_slot(s, other, wall(start, 23), product_id=pfizer).id
        s.commit()
        return slots


def book(client, slot_id, **extra):
    held = client.post("/api/v1/holds", json={"slot_id": slot_id})
    assert held.status_code == 201, held.get_json()
    body = person_json(1, **extra)
    return client.post(f"/api/v1/holds/{held.get_json()['hold_id']}/confirm", json=body)


def confirmed(app):
    return [(r.dose_number, r.slot_id) for r in confirmed_doses(app)]


def dob():
    return person(1).date_of_birth.isoformat()


def test_dose_two_times_for_a_dose_one_slot(client, world):
    answer = client.get(f"/api/v1/slots/{world.first}/second-dose-slots")
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["window"]["min_days"], body["window"]["max_days"]) == (21, 42)
    assert body["default_slot_id"] == world.default and body["complete"] is True
    listed = [s["id"] for s in body["slots"]]
    assert listed == [world.default, world.later]  # not past the window, not another clinic
    assert body["slots"][0]["vaccine"]["cvx_code"] == "208"
    one_dose = client.get(f"/api/v1/slots/{world.single}/second-dose-slots")
    assert one_dose.status_code == 422 and "slot_id" in str(one_dose.get_json()["errors"])
    for hostile in ("0", "99999999", "abc", "1e3", "-1"):
        assert client.get(f"/api/v1/slots/{hostile}/second-dose-slots").status_code == 404
    assert client.get("/api/v1/slots/%00/second-dose-slots").status_code == 400


def test_the_confirm_answer_names_each_dose(client, world):
    answer = book(client, world.first, second_dose_slot_id=world.later)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["reservation"]["vaccine"]["description"] == PFIZER_1
    assert body["second_dose"]["vaccine"]["description"] == PFIZER_2
    assert body["second_dose"]["slot_id"] == world.later


def test_looking_up_either_dose_shows_the_other(client, world):
    body = book(client, world.first).get_json()
    first = client.get(
        f"/api/v1/reservations/{body['confirmation_code']}", query_string={"date_of_birth": dob()}
    ).get_json()
    assert first["reservation"]["dose_number"] == 1
    assert first["second_dose"]["slot_id"] == world.default
    assert first["second_dose"]["vaccine"]["description"] == PFIZER_2
    code_two = body["second_dose"]["confirmation_code"]
    second = client.get(
        f"/api/v1/reservations/{code_two}", query_string={"date_of_birth": dob()}
    ).get_json()
    assert second["reservation"]["dose_number"] == 2
    assert second["first_dose"]["slot_id"] == world.first and "second_dose" not in second


def test_cancelling_dose_one_cancels_dose_two_unless_given_elsewhere(app, client, world, now):
    code = book(client, world.first).get_json()["confirmation_code"]
    url = f"/api/v1/reservations/{code}/cancel"
    # Dose 1 given today elsewhere: day 21 after tomorrow is day 22 from today, in the window.
    today = now.astimezone(BOSTON).date()
    for bad in ("2099-01-01", "yesterday", 7, (today - timedelta(days=60)).isoformat()):
        refused = client.post(url, json={"date_of_birth": dob(), "dose_one_given_on": bad})
        assert refused.status_code == 422, bad
        assert confirmed(app) == [(1, world.first), (2, world.default)]
    kept = client.post(url, json={"date_of_birth": dob(), "dose_one_given_on": today.isoformat()})
    assert kept.status_code == 200
    assert confirmed(app) == [(2, world.default)]


def test_cancelling_dose_one_alone_takes_dose_two(app, client, world):
    code = book(client, world.first).get_json()["confirmation_code"]
    cancelled = client.post(f"/api/v1/reservations/{code}/cancel", json={"date_of_birth": dob()})
    assert cancelled.status_code == 200 and cancelled.get_json()["reservation"]["status"] == (
        "cancelled"
    )
    assert confirmed(app) == []


def test_keeping_dose_two_of_a_one_dose_booking_is_refused(app, client, world, now):
    code = book(client, world.single).get_json()["confirmation_code"]
    today = now.astimezone(BOSTON).date().isoformat()
    refused = client.post(
        f"/api/v1/reservations/{code}/cancel",
        json={"date_of_birth": dob(), "dose_one_given_on": today},
    )
    assert refused.status_code == 422 and confirmed(app) == [(1, world.single)]


def test_moving_dose_one_re_picks_dose_two_inside_the_new_window(app, client, world):
    code = book(client, world.first).get_json()["confirmation_code"]
    url = f"/api/v1/reservations/{code}/reschedule"
    # Day 3: the window is days 24 to 45, so day 21 no longer fits and day 25 must be chosen.
    no_choice = client.post(url, json={"date_of_birth": dob(), "slot_id": world.moved})
    assert no_choice.status_code == 422
    for bad in (world.outside, world.elsewhere_two, "5", True, 0):
        body = {"date_of_birth": dob(), "slot_id": world.moved, "second_dose_slot_id": bad}
        assert client.post(url, json=body).status_code in (404, 409, 422), bad
    assert confirmed(app) == [(1, world.first), (2, world.default)]
    body = {"date_of_birth": dob(), "slot_id": world.moved, "second_dose_slot_id": world.later}
    moved = client.post(url, json=body)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["second_dose"]["slot_id"] == world.later
    assert confirmed(app) == [(1, world.moved), (2, world.later)]
    with app.app_context():
        assert db.session.get(Slot, world.default).booked == 0


def test_a_move_with_a_wrong_birth_date_or_type_is_refused(app, client, world):
    code = book(client, world.single).get_json()["confirmation_code"]
    url = f"/api/v1/reservations/{code}/reschedule"
    assert client.post(url, json={"date_of_birth": "1901-01-01", "slot_id": 1}).status_code == 404
    for slot in ("1", None, 1.5, [1], {"id": 1}, 2**40):
        answer = client.post(url, json={"date_of_birth": dob(), "slot_id": slot})
        assert answer.status_code == 422, slot
    assert client.post(url, data="x", content_type="text/plain").status_code == 415
    assert confirmed(app) == [(1, world.single)]
