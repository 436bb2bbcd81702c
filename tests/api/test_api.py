"""The JSON API v1 end to end through the test client: search, hold, confirm, look up, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from openapi_spec_validator import validate

from booking.api.openapi import openapi_path
from booking.db import db
from booking.models import Slot
from booking.services.tokens import CODE_ALPHABET
from tests.support import make_clinic, make_slot, person_json

PROBLEM = "application/problem+json"
CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{8}}$")


@pytest.fixture
def world(app, now):
    """A Boston clinic with two slots tomorrow (capacity 2 and 1)."""
    with app.app_context():
        clinic = make_clinic(db.session, now)
        slot = make_slot(db.session, clinic, now + timedelta(days=1), capacity=2)
        small = make_slot(db.session, clinic, now + timedelta(days=1, hours=1), capacity=1)
        db.session.commit()
        return SimpleNamespace(clinic_id=clinic.id, slot_id=slot.id, small_id=small.id)


def counters(app, slot_id):
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        return slot.held, slot.booked


def problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    return body


def hold(client, slot_id, **headers):
    response = client.post("/api/v1/holds", json={"slot_id": slot_id}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def confirm(client, hold_id, n=1, **overrides):
    return client.post(f"/api/v1/holds/{hold_id}/confirm", json=person_json(n, **overrides))


def test_search_lists_nearby_clinics_nearest_first_with_availability(app, client, now):
    with app.app_context():
        near = make_clinic(db.session, now, name="Fenway Health")
        make_clinic(db.session, now, name="Far Away", latitude=40.7506, longitude=-73.9935)
        flu_only = make_clinic(
            db.session, now, name="Flu Place", latitude=42.36, longitude=-71.06, services=["flu"]
        )
        make_slot(db.session, near, now + timedelta(days=3), capacity=3)
        make_slot(db.session, near, now + timedelta(days=1), capacity=2)
        make_slot(db.session, near, now + timedelta(days=30), capacity=9)  # past the horizon
        db.session.commit()
        near_id, flu_id, near_line = near.id, flu_only.id, near.address_line

    response = client.get("/api/v1/clinics?zip=02115&radius_miles=10")
    assert response.status_code == 200
    clinics = response.get_json()["clinics"]
    assert [c["id"] for c in clinics] == [near_id, flu_id]
    first = clinics[0]
    assert set(first) >= {
        "id",
        "name",
        "address",
        "phone",
        "latitude",
        "longitude",
        "distance_miles",
        "available_slots",
        "next_available",
    }
    assert first["address"] == {
        "line": near_line,
        "city": "Boston",
        "state": "MA",
        "postal_code": "02115",
    }
    assert first["distance_miles"] < clinics[1]["distance_miles"] <= 10
    assert first["available_slots"] == 5
    assert first["next_available"] == "2026-03-03T08:00:00-05:00"
    assert clinics[1]["available_slots"] == 0
    assert clinics[1]["next_available"] is None

    on_day = client.get("/api/v1/clinics?zip=02115&date=2026-03-05").get_json()["clinics"]
    assert on_day[0]["available_slots"] == 3
    flu = client.get("/api/v1/clinics?zip=02115&service=flu").get_json()["clinics"]
    assert [c["id"] for c in flu] == [near_id, flu_id]  # both offer flu; no flu slots yet
    assert all(c["available_slots"] == 0 for c in flu)


def test_slot_times_are_local_with_the_right_offset_across_dst(app, client, now):
    with app.app_context():
        boston = make_clinic(db.session, now)
        la = make_clinic(db.session, now, timezone="America/Los_Angeles")
        make_slot(db.session, boston, datetime(2026, 3, 3, 14, 0, tzinfo=UTC))
        make_slot(db.session, boston, datetime(2026, 3, 9, 14, 0, tzinfo=UTC), capacity=3)
        # 06:00 UTC on March 4 is still March 3 in Los Angeles.
        make_slot(db.session, la, datetime(2026, 3, 4, 6, 0, tzinfo=UTC), service="flu")
        db.session.commit()
        boston_id, la_id = boston.id, la.id

    winter = client.get(f"/api/v1/clinics/{boston_id}/slots?date=2026-03-03").get_json()["slots"]
    assert [(s["start"], s["end"]) for s in winter] == [
        ("2026-03-03T09:00:00-05:00", "2026-03-03T09:15:00-05:00")
    ]
    summer = client.get(f"/api/v1/clinics/{boston_id}/slots?date=2026-03-09").get_json()["slots"]
    assert summer[0]["start"] == "2026-03-09T10:00:00-04:00"
    assert set(summer[0]) == {"id", "start", "end", "service", "vaccine", "capacity", "available"}
    # make_slot's default is the service's one-dose product (a booking of it is one visit).
    assert summer[0]["vaccine"]["description"] == "COVID-19 vaccine (Janssen)"
    assert (summer[0]["capacity"], summer[0]["available"], summer[0]["service"]) == (
        3,
        3,
        "covid19",
    )
    la_day = client.get(f"/api/v1/clinics/{la_id}/slots?date=2026-03-03").get_json()["slots"]
    assert [s["start"] for s in la_day] == ["2026-03-03T22:00:00-08:00"]
    assert client.get(f"/api/v1/clinics/{la_id}/slots?date=2026-03-04").get_json() == {"slots": []}
    only_covid = client.get(f"/api/v1/clinics/{la_id}/slots?date=2026-03-03&service=covid19")
    assert only_covid.get_json() == {"slots": []}


def test_hold_confirm_look_up_and_cancel(app, client, world, now):
    held = hold(client, world.slot_id)
    assert held["slot_id"] == world.slot_id
    assert datetime.fromisoformat(held["expires_at"]) == now + timedelta(minutes=10)
    assert counters(app, world.slot_id) == (1, 0)
    listed = client.get(f"/api/v1/clinics/{world.clinic_id}/slots?date=2026-03-03").get_json()
    assert [s["available"] for s in listed["slots"]] == [1, 1]

    response = confirm(client, held["hold_id"], n=1)
    assert response.status_code == 201
    done = response.get_json()
    assert CODE_RE.match(done["confirmation_code"])
    assert len(done["manage_token"]) >= 22
    assert done["reservation"] == {
        "status": "confirmed",
        "slot_id": world.slot_id,
        "clinic_id": world.clinic_id,
        "start": "2026-03-03T08:00:00-05:00",
        "vaccine": {
            "product": "janssen-covid19",
            "service": "covid19",
            "name": "Janssen",
            "manufacturer": "Janssen Biotech",
            "cvx_code": "212",
            "description": "COVID-19 vaccine (Janssen)",
        },
    }
    assert counters(app, world.slot_id) == (0, 1)

    # A retried confirm (same hold, same person) answers the same reservation again.
    again = confirm(client, held["hold_id"], n=1)
    assert again.status_code == 201
    assert again.get_json()["confirmation_code"] == done["confirmation_code"]
    assert counters(app, world.slot_id) == (0, 1)

    code, dob = done["confirmation_code"], person_json(1)["date_of_birth"]
    found = client.get(f"/api/v1/reservations/{code[:4].lower()}-{code[4:]}?date_of_birth={dob}")
    assert found.status_code == 200
    assert found.get_json()["reservation"]["status"] == "confirmed"
    assert found.get_json()["reservation"]["start"] == "2026-03-03T08:00:00-05:00"

    cancelled = client.post(f"/api/v1/reservations/{code}/cancel", json={"date_of_birth": dob})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["reservation"]["status"] == "cancelled"
    assert counters(app, world.slot_id) == (0, 0)
    status = client.get(f"/api/v1/reservations/{code}?date_of_birth={dob}").get_json()
    assert status["reservation"]["status"] == "cancelled"


def test_releasing_a_hold_returns_its_place(app, client, world):
    held = hold(client, world.small_id)
    assert counters(app, world.small_id) == (1, 0)
    response = client.delete(f"/api/v1/holds/{held['hold_id']}")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert counters(app, world.small_id) == (0, 0)
    assert client.delete(f"/api/v1/holds/{held['hold_id']}").status_code == 204  # harmless again
    assert counters(app, world.small_id) == (0, 0)
    problem(confirm(client, held["hold_id"]), 409)  # a released hold cannot be booked
    problem(client.delete("/api/v1/holds/no-such-hold-id"), 404)
    hold(client, world.small_id)  # the place really is free again


def test_a_confirmed_hold_cannot_be_released(app, client, world):
    held = hold(client, world.slot_id)
    assert confirm(client, held["hold_id"]).status_code == 201
    problem(client.delete(f"/api/v1/holds/{held['hold_id']}"), 409)
    assert counters(app, world.slot_id) == (0, 1)


def test_full_slot_is_409_and_unknown_slot_is_404(app, client, world):
    hold(client, world.small_id)
    full = problem(client.post("/api/v1/holds", json={"slot_id": world.small_id}), 409)
    assert "taken" in full["detail"]
    assert counters(app, world.small_id) == (1, 0)
    missing = problem(client.post("/api/v1/holds", json={"slot_id": 999_999}), 404)
    assert missing["detail"] == "No slot with that id."


def test_a_slot_that_has_started_cannot_be_held(app, client, world, later):
    later(days=2)
    problem(client.post("/api/v1/holds", json={"slot_id": world.slot_id}), 409)
    assert counters(app, world.slot_id) == (0, 0)


def test_idempotency_key_replays_the_same_hold(app, client, world):
    first = hold(client, world.slot_id, **{"Idempotency-Key": "order-42"})
    again = hold(client, world.slot_id, **{"Idempotency-Key": "order-42"})
    assert again == first
    assert counters(app, world.slot_id) == (1, 0)
    other = client.post(
        "/api/v1/holds", json={"slot_id": world.small_id}, headers={"Idempotency-Key": "order-42"}
    )
    assert "another slot" in problem(other, 409)["detail"]
    assert counters(app, world.small_id) == (0, 0)
    fresh = hold(client, world.slot_id, **{"Idempotency-Key": "order-43"})
    assert fresh["hold_id"] != first["hold_id"]
    assert counters(app, world.slot_id) == (2, 0)


def test_an_expired_hold_is_gone_and_its_place_sells_again(app, client, world, later):
    held = hold(client, world.small_id)
    later(minutes=9)
    assert counters(app, world.small_id) == (1, 0)
    later(minutes=2)
    gone = problem(confirm(client, held["hold_id"]), 410)
    assert "ran out" in gone["detail"]
    assert counters(app, world.small_id) == (1, 0)  # nothing booked by the refused confirm
    newcomer = hold(client, world.small_id)  # the expired hold is reclaimed lazily
    assert counters(app, world.small_id) == (1, 0)
    assert confirm(client, newcomer["hold_id"], n=2).status_code == 201
    assert counters(app, world.small_id) == (0, 1)


def test_a_second_booking_for_the_same_person_is_409_and_keeps_the_hold(app, client, world):
    assert confirm(client, hold(client, world.slot_id)["hold_id"], n=3).status_code == 201
    second = hold(client, world.small_id)
    clash = confirm(client, second["hold_id"], n=3, first_name=person_json(3)["first_name"].upper())
    assert "already has an appointment" in problem(clash, 409)["detail"]
    assert counters(app, world.small_id) == (1, 0)
    assert confirm(client, second["hold_id"], n=4).status_code == 201


def test_confirm_names_every_bad_field(app, client, world):
    held = hold(client, world.slot_id)
    body = problem(client.post(f"/api/v1/holds/{held['hold_id']}/confirm", json={}), 422)
    pointers = {e["pointer"]: e["detail"] for e in body["errors"]}
    # The residency question is asked at booking, for every channel (issue 17).
    assert set(pointers) == {
        "#/first_name",
        "#/last_name",
        "#/date_of_birth",
        "#/phone",
        "#/resident",
    }
    assert all(pointers.values())
    bad = confirm(client, held["hold_id"], date_of_birth="2021-02-30", email="not-an-email")
    errors = {e["pointer"]: e["detail"] for e in problem(bad, 422)["errors"]}
    assert errors == {
        "#/date_of_birth": "That date does not exist.",
        "#/email": "Enter an email address like name@example.com.",
    }
    assert counters(app, world.slot_id) == (1, 0)


def test_a_wrong_birth_date_and_an_unknown_code_answer_identically(app, client, world):
    done = confirm(client, hold(client, world.slot_id)["hold_id"], n=5).get_json()
    code = done["confirmation_code"]
    unknown = next(c * 8 for c in CODE_ALPHABET if c * 8 != code)

    def answer(response):
        body = problem(response, 404)
        body.pop("instance")  # echoes the path the client sent, nothing more
        return body

    wrong = answer(client.get(f"/api/v1/reservations/{code}?date_of_birth=1999-09-09"))
    assert answer(client.get(f"/api/v1/reservations/{unknown}?date_of_birth=1999-09-09")) == wrong
    cancel_wrong = client.post(
        f"/api/v1/reservations/{code}/cancel", json={"date_of_birth": "1999-09-09"}
    )
    assert answer(cancel_wrong) == wrong
    assert counters(app, world.slot_id) == (0, 1)


def test_lookups_are_rate_limited_with_a_problem(client):
    url = "/api/v1/reservations/ABCD2345?date_of_birth=1960-01-01"
    assert {client.get(url).status_code for _ in range(10)} == {404}
    limited = client.get(url)
    assert problem(limited, 429)["detail"]
    assert int(limited.headers["Retry-After"]) > 0
    for _ in range(10):
        client.post("/api/v1/reservations/ABCD2345/cancel", json={"date_of_birth": "1960-01-01"})
    problem(
        client.post("/api/v1/reservations/ABCD2345/cancel", json={"date_of_birth": "1960-01-01"}),
        429,
    )


def test_openapi_document_is_valid_and_covers_every_api_route(app, client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            methods = {m.lower() for m in rule.methods} - {"head", "options"}
            routes.setdefault(openapi_path(rule.rule), set()).update(methods)
    assert len(routes) >= 6
    documented = {path: set(item) - {"parameters"} for path, item in document["paths"].items()}
    assert documented == routes


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status"),
    [
        ("get", "/api/v1/no-such-thing", {}, 404),
        ("get", "/api/v1/holds", {}, 405),
        ("post", "/api/v1/holds", {"data": "slot_id=1"}, 415),
        ("post", "/api/v1/holds", {"data": "{", "content_type": "application/json"}, 400),
        ("post", "/api/v1/holds", {"json": {}}, 422),
        ("get", "/api/v1/clinics/999999/slots?date=2026-03-03", {}, 404),
        ("get", "/api/v1/clinics?zip=00000", {}, 422),
    ],
)
def test_every_error_is_problem_json(client, method, url, kwargs, status):
    body = problem(getattr(client, method)(url, **kwargs), status)
    assert body["type"]
    assert body["instance"] == url.split("?")[0]
