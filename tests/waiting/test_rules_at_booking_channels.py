"""Issue 17's bypasses, tried again through every channel, with the waiting room off and on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.db import db
from booking.models import Reservation
from tests.staff.agent_support import CALLER, book, make_accounts, sign_in
from tests.staff.agent_support import hold as agent_hold
from tests.support import DOB, make_clinic, make_slot, person_json
from tests.waiting.support import (
    api_confirm,
    api_token,
    bearer,
    browser_admitted,
    counters,
    csrf,
    html_details,
    problem,
    text,
)


def rsv_and_covid(app, now):
    """Commit a clinic with an RSV slot and two COVID-19 slots tomorrow; return their ids."""
    with app.app_context():
        clinic = make_clinic(db.session, now, services=["covid19", "rsv"])
        other = make_clinic(db.session, now, services=["covid19"])
        rsv = make_slot(db.session, clinic, now + timedelta(days=1), service="rsv", capacity=5)
        covid = make_slot(db.session, clinic, now + timedelta(days=1, hours=1), capacity=5)
        there = make_slot(db.session, other, now + timedelta(days=2), capacity=5)
        db.session.commit()
        return rsv.id, covid.id, there.id


@pytest.fixture(params=["off", "on"])
def room(request):
    """The app with the waiting room off (rolled back) or on (``always``)."""
    # Only the one asked for: on SQLite, two apps' open transactions would lock each other.
    if request.param == "off":
        return request.getfixturevalue("app")
    return request.getfixturevalue("build")()


def api_hold(client, slot_id, token=None, **body):
    headers = bearer(token) if token else {}
    return client.post("/api/v1/holds", json={"slot_id": slot_id, **body}, headers=headers)


def api_admission(app, client):
    return api_token(client) if app.config["QUEUE_MODE"] != "off" else None


def test_api_rsv_for_someone_born_in_2001_is_refused_naming_the_rule(room, now):
    rsv, _, _ = rsv_and_covid(room, now)
    client = room.test_client()
    token = api_admission(room, client)
    held = api_hold(client, rsv, token).get_json()
    refused = api_confirm(
        client, held["hold_id"], person_json(1, date_of_birth="2001-05-01"), token
    )
    body = problem(refused, 422)
    assert body["rule"] == "product_age"
    assert body["type"] == "urn:fairslot:problem:not-eligible"
    assert any(e["pointer"] == "#/date_of_birth" for e in body["errors"])
    assert counters(room, rsv) == (0, 0)  # the hold went back, committed


def test_api_confirm_without_the_answers_is_422_and_keeps_the_hold(room, now):
    _, covid, _ = rsv_and_covid(room, now)
    client = room.test_client()
    token = api_admission(room, client)
    held = api_hold(client, covid, token).get_json()
    body = problem(api_confirm(client, held["hold_id"], {}, token), 422)
    assert "#/resident" in {e["pointer"] for e in body["errors"]}
    assert counters(room, covid) == (1, 0)


def test_api_hold_with_a_birth_date_refuses_before_holding(room, now):
    rsv, _, _ = rsv_and_covid(room, now)
    client = room.test_client()
    token = api_admission(room, client)
    body = problem(api_hold(client, rsv, token, date_of_birth="1996-01-01"), 422)
    assert body["rule"] == "product_age"
    assert counters(room, rsv) == (0, 0)


def api_booked(client, slot_id, token):
    """Hold and confirm ``slot_id`` for person 1 under ``token``; the confirm's answer."""
    held = api_hold(client, slot_id, token).get_json()
    confirmed = api_confirm(client, held["hold_id"], person_json(1), token)
    assert confirmed.status_code == 201, confirmed.get_json()
    return confirmed.get_json()


def test_one_api_ticket_books_once_then_is_told_to_join_again(build, now):
    app = build()
    _, covid, _ = rsv_and_covid(app, now)
    client = app.test_client()
    token = api_token(client)
    api_booked(client, covid, token)
    body = problem(api_hold(client, covid, token), 409)
    assert body["type"] == "urn:fairslot:problem:admission-used"
    assert "join the line again" in body["detail"]
    # A second client with the same bearer token is the same spent admission.
    again = problem(api_hold(app.test_client(), covid, token), 409)
    assert again["type"] == "urn:fairslot:problem:admission-used"
    assert counters(app, covid) == (0, 1)


def test_another_clients_admission_cannot_confirm_someone_elses_hold(build, now):
    app = build()
    _, covid, _ = rsv_and_covid(app, now)
    mine, theirs = app.test_client(), app.test_client()
    my_token, their_token = api_token(mine), api_token(theirs)
    held = api_hold(mine, covid, my_token).get_json()
    refused = api_confirm(theirs, held["hold_id"], person_json(2), their_token)
    problem(refused, 409)
    assert counters(app, covid) == (1, 0)  # still mine to confirm
    assert api_confirm(mine, held["hold_id"], person_json(2), my_token).status_code == 201


def test_companion_setting_allows_exactly_one_more(build, now):
    app = build(COMPANION_BOOKING=True)
    _, covid, _ = rsv_and_covid(app, now)
    client = app.test_client()
    token = api_token(client)
    first = api_hold(client, covid, token).get_json()
    assert api_confirm(client, first["hold_id"], person_json(3), token).status_code == 201
    second = api_hold(client, covid, token)
    assert second.status_code == 201
    body = person_json(4, companion=True)
    assert api_confirm(client, second.get_json()["hold_id"], body, token).status_code == 201
    problem(api_hold(client, covid, token), 409)
    with app.app_context():
        booked = db.session.query(Reservation).filter(Reservation.confirmed_at.is_not(None))
        flags = sorted(r.companion for r in booked)
    assert flags == [False, True]


def test_companion_is_refused_where_the_state_has_not_turned_it_on(app, client, now):
    _, covid, _ = rsv_and_covid(app, now)
    held = api_hold(client, covid).get_json()
    body = problem(api_confirm(client, held["hold_id"], person_json(5, companion=True)), 422)
    assert "#/companion" in {e["pointer"] for e in body["errors"]}


def html_hold(client, slot_id, dob=DOB):
    data = {"csrf_token": csrf(client)}
    if dob:
        data["date_of_birth"] = dob
    return client.post(f"/slots/{slot_id}/hold", data=data)


def test_browser_flu_answers_in_line_do_not_book_rsv_at_30(build, now):
    app = build()
    rsv, _, _ = rsv_and_covid(app, now)
    browser = app.test_client()
    browser_admitted(browser, service="flu", date_of_birth="01/01/1996")
    refused = html_hold(browser, rsv, dob="01/01/1996")
    assert refused.status_code == 422
    assert "Arexvy is given from age 60" in text(refused)
    assert counters(app, rsv) == (0, 0)


def test_browser_with_an_older_birth_date_then_a_younger_one_on_the_form(room, now):
    rsv, _, _ = rsv_and_covid(room, now)
    browser = room.test_client()
    if room.config["QUEUE_MODE"] != "off":
        browser_admitted(browser)
    held = html_hold(browser, rsv)
    assert held.status_code == 303
    booked = browser.post(
        held.headers["Location"], data=html_details(browser, date_of_birth="01/01/2001")
    )
    assert booked.status_code == 422
    page = text(booked)
    assert "We have given this time back" in page
    assert counters(room, rsv) == (0, 0)


def test_browser_must_give_a_birth_date_before_holding(app, client, now):
    _, covid, _ = rsv_and_covid(app, now)
    asked = html_hold(client, covid, dob=None)
    assert asked.status_code == 303
    assert "dob=ask" in asked.headers["Location"]
    page = text(client.get(asked.headers["Location"]))
    assert "Enter the date of birth of the person to be vaccinated" in page
    assert counters(app, covid) == (0, 0)


def test_browser_residency_answer_is_required_and_checked(app, client, now):
    _, covid, _ = rsv_and_covid(app, now)
    held = html_hold(client, covid)
    missing = client.post(held.headers["Location"], data=html_details(client, resident=None))
    assert missing.status_code == 422
    assert 'id="resident-error"' in text(missing)
    assert counters(app, covid) == (1, 0)
    no = client.post(held.headers["Location"], data=html_details(client, resident="no"))
    assert no.status_code == 422
    assert "live, work or study in Massachusetts" in text(no)
    assert counters(app, covid) == (0, 0)


def test_browser_spent_admission_is_sent_to_the_line_again(build, now):
    app = build()
    _, covid, _ = rsv_and_covid(app, now)
    browser = app.test_client()
    browser_admitted(browser)
    held = html_hold(browser, covid)
    assert browser.post(held.headers["Location"], data=html_details(browser)).status_code == 303
    again = html_hold(browser, covid)
    assert again.status_code == 409
    assert 'href="/waiting-room"' in text(again)
    assert counters(app, covid) == (0, 1)


def test_reschedule_to_another_clinic_passes_the_waiting_room(build, now):
    app = build()
    _, covid, there = rsv_and_covid(app, now)
    booker = app.test_client()
    browser_admitted(booker)
    held = html_hold(booker, covid)
    assert booker.post(held.headers["Location"], data=html_details(booker)).status_code == 303
    with app.app_context():
        code = db.session.query(Reservation).filter(Reservation.slot_id == covid).one()
        code = code.confirmation_code
    fresh = app.test_client()  # no admission
    found = fresh.post("/lookup", data={"csrf_token": csrf(fresh), "code": code, "dob": DOB})
    assert found.status_code == 303
    moved = fresh.post("/manage/reschedule", data={"csrf_token": csrf(fresh), "slot_id": there})
    assert moved.status_code == 303
    assert moved.headers["Location"].startswith("/waiting-room")
    assert counters(app, there) == (0, 0)
    assert counters(app, covid) == (0, 1)
    browser_admitted(fresh)
    moved = fresh.post("/manage/reschedule", data={"csrf_token": csrf(fresh), "slot_id": there})
    assert moved.headers["Location"] == "/manage?moved=1"
    assert counters(app, there) == (0, 1)
    # The move spent that admission, as a booking would: it books nobody else.
    again = html_hold(fresh, covid)
    assert again.status_code == 409 and 'href="/waiting-room"' in text(again)
    assert counters(app, covid) == (0, 0)


@pytest.mark.parametrize("override", [None, "Referred by her cardiologist today"])
def test_agent_rsv_for_a_young_caller_needs_a_reasoned_override(room, now, override, clock):
    rsv, _, _ = rsv_and_covid(room, now)
    make_accounts(room, clock())
    agent = sign_in(room, "agent", clock())
    held = agent_hold(agent, rsv)
    assert held.status_code == 303
    fields = {**CALLER, "date_of_birth": "01/01/1996"}
    if override:
        fields["override_reason"] = override
    answer = book(agent, held.headers["Location"], **fields)
    if override is None:
        assert answer.status_code == 422
        assert "Arexvy is given from age 60" in text(answer)
        assert counters(room, rsv) == (1, 0)  # kept while the agent writes a reason
    else:
        assert answer.status_code == 303
        assert counters(room, rsv) == (0, 1)


def test_api_move_to_another_clinic_needs_and_spends_an_admission(build, now):
    app = build()
    _, covid, there = rsv_and_covid(app, now)
    booker = app.test_client()
    token = api_token(booker)
    done = api_booked(booker, covid, token)
    url = f"/api/v1/reservations/{done['confirmation_code']}/reschedule"
    dob = person_json(1)["date_of_birth"]
    fresh = app.test_client()  # no admission
    problem(fresh.post(url, json={"date_of_birth": dob, "slot_id": there}), 401)
    assert counters(app, there) == (0, 0) and counters(app, covid) == (0, 1)
    # The admission the booking was made with may still move that booking (nothing new).
    own = booker.post(url, json={"date_of_birth": dob, "slot_id": there}, headers=bearer(token))
    assert own.status_code == 200
    assert counters(app, there) == (0, 1) and counters(app, covid) == (0, 0)
    # Another admission moves it back to the first clinic, and is spent by it.
    second = api_token(fresh)
    back = {"date_of_birth": dob, "slot_id": covid}
    moved = fresh.post(url, json=back, headers=bearer(second))
    assert moved.status_code == 200, moved.get_json()
    assert counters(app, there) == (0, 0) and counters(app, covid) == (0, 1)
    assert problem(api_hold(fresh, covid, second), 409)["type"].endswith("admission-used")
