"""The HTML waiting room: eligibility, the line, the status page without JavaScript, the way in."""

from __future__ import annotations

import re

import pytest

from booking.web.queue_state import get_queue
from tests.waiting.support import (
    CONTINUE_RE,
    GOOD_ANSWERS,
    REFRESH_RE,
    add_slots,
    admission_cookie,
    api_join,
    api_token,
    browser_admitted,
    clinic_of,
    csrf,
    html_hold,
    join_form,
    position,
    problem,
    revoke,
    session_value,
    text,
)

# The HTML waiting room ----------------------------------------------------------------------------


def test_the_eligibility_form_and_its_errors(build, now):
    app = build()
    add_slots(app, now, 2)
    client = app.test_client()
    page = client.get("/waiting-room")
    assert page.status_code == 200
    for name in ('name="service"', 'name="date_of_birth"', 'name="resident"', 'name="csrf_token"'):
        assert name in text(page)
    assert "h-captcha" not in text(page)  # hCaptcha is off without keys

    future = join_form(client, date_of_birth="2027-01-01")
    assert future.status_code == 422
    assert "Must be in the past." in text(future)
    young = join_form(client, service="rsv", date_of_birth="04/27/1990")
    assert young.status_code == 422
    assert "This vaccine is offered here from age 60." in text(young)
    outsider = join_form(client, resident="no")
    assert outsider.status_code == 422
    page = text(outsider)
    assert "live, work or study in Massachusetts" in page
    # The message sits with the question it is about, which is marked invalid.
    assert re.search(r'<p class="error-message" id="resident-error">[^<]*Massachusetts', page)
    missing = join_form(client, service="", date_of_birth="", resident=None)
    assert missing.status_code == 422
    assert "Choose a vaccine." in text(missing)
    assert "Choose yes or no." in text(missing)
    assert session_value(client, "qticket") is None

    joined = join_form(client)
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/waiting-room/status"
    assert session_value(client, "qticket")

    # The API asks the same questions when answers are sent, naming the fields it was sent.
    answers = {"service": "rsv", "date_of_birth": "1990-04-27", "resident": "no"}
    refused = problem(client.post("/api/v1/queue/tickets", json=answers), 422)
    assert {e["pointer"] for e in refused["errors"]} == {"#/date_of_birth", "#/resident"}
    answers.update(date_of_birth="1950-04-27", resident="yes")
    assert client.post("/api/v1/queue/tickets", json=answers).status_code == 201


def test_the_status_page_without_a_ticket_sends_you_to_join(build):
    client = build().test_client()
    page = client.get("/waiting-room/status")
    assert page.status_code == 303
    assert page.headers["Location"] == "/waiting-room?lapsed=1"
    assert client.get("/waiting-room/status.json").get_json()["state"] == "lapsed"
    assert "Your place in line lapsed" in text(client.get(page.headers["Location"]))


def test_rejoining_or_refreshing_keeps_the_same_place(build, now):
    app = build(QUEUE_MAX_ACTIVE=1)
    add_slots(app, now, 2)
    api_token(app.test_client())  # takes the one place
    first, second = app.test_client(), app.test_client()
    assert join_form(first).status_code == 303
    assert join_form(second).status_code == 303
    ticket = session_value(first, "qticket")
    assert position(first.get("/waiting-room/status")) == 1
    assert position(second.get("/waiting-room/status")) == 2

    again = first.post("/waiting-room", data={"csrf_token": csrf(first), **GOOD_ANSWERS})
    assert again.status_code == 303
    assert again.headers["Location"] == "/waiting-room/status"
    reload = first.get("/waiting-room")
    assert reload.status_code == 303
    assert reload.headers["Location"] == "/waiting-room/status"
    assert session_value(first, "qticket") == ticket
    assert position(first.get("/waiting-room/status")) == 1
    assert position(second.get("/waiting-room/status")) == 2
    third = app.test_client()
    join_form(third)
    assert position(third.get("/waiting-room/status")) == 3  # no extra ticket was taken


def test_the_status_page_works_without_javascript_and_lets_you_in(build, now):
    app = build(QUEUE_MAX_ACTIVE=1)
    (slot,) = add_slots(app, now, 2)
    clinic = clinic_of(app, slot)
    holder = app.test_client()
    held = api_join(holder)
    browser = app.test_client()
    assert join_form(browser, next_url=f"/clinics/{clinic}").status_code == 303

    page = browser.get("/waiting-room/status")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    body = text(page)
    assert "You are in line" in body
    assert position(page) == 1
    figures = browser.get("/waiting-room/status.json").get_json()
    refresh = REFRESH_RE.search(body)
    assert refresh, body[:2000]
    assert int(refresh.group(1)) == figures["poll_after_seconds"] > 0
    assert "Last updated 8:00" in body  # 13:00 UTC is 08:00 in Boston
    assert figures["state"] == "waiting"
    assert figures["position"] == 1
    assert figures["ahead"] == 0
    assert figures["remaining_appointments"] == 2
    assert f'<dd data-field="remaining">{figures["remaining_appointments"]}</dd>' in body
    assert f'<dd data-field="ahead">{figures["ahead"]}</dd>' in body
    assert figures["updated_at"] == "2026-03-02T13:00:00+00:00"
    assert admission_cookie(browser) is None

    revoke(app, held["ticket"])  # the one place is free again
    page = browser.get("/waiting-room/status")
    body = text(page)
    (cookie_header,) = [
        c for c in page.headers.getlist("Set-Cookie") if c.startswith("fairslot_admission=")
    ]
    assert "HttpOnly" in cookie_header
    assert "SameSite=Lax" in cookie_header
    assert "It is your turn" in body
    assert 'http-equiv="refresh"' not in body
    assert CONTINUE_RE.search(body).group(1) == f"/clinics/{clinic}"
    assert admission_cookie(browser)
    figures = browser.get("/waiting-room/status.json").get_json()
    assert figures["state"] == "admitted"
    assert figures["next_url"] == f"/clinics/{clinic}"
    assert html_hold(browser, slot).headers["Location"].startswith("/book/")


@pytest.mark.parametrize(
    "target",
    ["//evil.example", "https://evil.example", "/\\evil.example", "/\t/evil.example", "evil"],
)
def test_next_never_leads_off_site(build, now, target):
    app = build()
    add_slots(app, now, 2)
    browser = app.test_client()
    browser_admitted(browser, next_url=target)
    body = text(browser.get("/waiting-room/status"))
    assert CONTINUE_RE.search(body).group(1) == "/"
    assert "evil" not in body
    assert browser.get("/waiting-room/status.json").get_json()["next_url"] == "/"


def test_sold_out_admits_nobody_and_says_so(build, now):
    app = build()  # no free slots at all
    browser = app.test_client()
    assert join_form(browser).status_code == 303
    page = browser.get("/waiting-room/status")
    body = text(page)
    assert "All appointments are taken for now" in body
    assert 'href="/waiting-room/standby"' in body
    assert "It is your turn" not in body
    assert '<dd data-field="eta">No appointments are left</dd>' in body  # no false hope
    assert admission_cookie(browser) is None
    figures = browser.get("/waiting-room/status.json").get_json()
    assert figures["state"] == "waiting"
    assert figures["sold_out"] is True
    assert figures["eta_seconds"] is None
    assert figures["remaining_appointments"] == 0
    assert figures["standby_url"] == "http://fairslot.test/waiting-room/standby"
    api = api_join(app.test_client())
    assert (api["state"], api["sold_out"]) == ("waiting", True)
    assert "admission_token" not in api
    standby = browser.get("/waiting-room/standby")
    assert standby.status_code == 200
    assert "2-1-1" in text(standby)


def test_paused_shows_the_message_and_admits_nobody(build, now):
    app = build(QUEUE_MODE="paused")
    (slot,) = add_slots(app, now, 2)
    browser = app.test_client()
    form = browser.get("/waiting-room")
    assert "Booking is paused for the moment" in text(form)
    assert join_form(browser).status_code == 303
    body = text(browser.get("/waiting-room/status"))
    assert "Booking is paused for the moment. Keep this page open; you keep your place." in body
    assert "It is your turn" not in body
    api = api_join(app.test_client())
    assert (api["state"], api["paused"], api["eta_seconds"]) == ("waiting", True, None)

    with app.app_context():
        get_queue().update_settings(paused_message="Back at noon, with more appointments.")
    assert "Back at noon, with more appointments." in text(browser.get("/waiting-room/status"))
    assert admission_cookie(browser) is None
    assert html_hold(browser, slot).headers["Location"].startswith("/waiting-room?next=")

    with app.app_context():
        get_queue().update_settings(mode="always")  # resume: the same place gets in
    assert "It is your turn" in text(browser.get("/waiting-room/status"))


def test_auto_mode_clicking_hold_again_keeps_the_place_in_line(build, now):
    app = build(QUEUE_MODE="auto", QUEUE_MAX_ACTIVE=1)
    (slot,) = add_slots(app, now, 3)
    api_token(app.test_client())  # takes the one place
    first, second = app.test_client(), app.test_client()
    assert html_hold(first, slot).headers["Location"].startswith("/waiting-room?next=")
    ticket = session_value(first, "qticket")
    assert html_hold(second, slot).headers["Location"].startswith("/waiting-room?next=")
    assert position(first.get("/waiting-room/status")) == 1
    assert position(second.get("/waiting-room/status")) == 2
    # Going back and choosing a time again must not send the first visitor to the back.
    assert html_hold(first, slot).headers["Location"].startswith("/waiting-room?next=")
    assert session_value(first, "qticket") == ticket
    assert position(first.get("/waiting-room/status")) == 1
    assert position(second.get("/waiting-room/status")) == 2


def test_switching_the_queue_off_sends_everyone_waiting_on(build, now):
    app = build(QUEUE_MAX_ACTIVE=1)
    (slot,) = add_slots(app, now, 3)
    api_token(app.test_client())  # takes the one place
    browser = app.test_client()
    assert join_form(browser, next_url="/search").status_code == 303
    api = app.test_client()
    waiting = api_join(api)
    assert waiting["state"] == "waiting"
    assert position(browser.get("/waiting-room/status")) == 1
    with app.app_context():
        get_queue().update_settings(mode="off")
    page = browser.get("/waiting-room/status")
    assert page.status_code == 200
    assert CONTINUE_RE.search(text(page)).group(1) == "/search"
    assert browser.get("/waiting-room/status.json").get_json()["state"] == "admitted"
    polled = api.get(f"/api/v1/queue/tickets/{waiting['ticket']}").get_json()
    assert polled["state"] == "admitted"
    assert html_hold(browser, slot).headers["Location"].startswith("/book/")
