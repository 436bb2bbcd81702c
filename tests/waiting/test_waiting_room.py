"""The waiting room through HTTP: the gate on holds and confirms, tokens, the API flow, metrics.

The HTML waiting room is in test_waiting_room_pages.py; abuse and failure (hCaptcha, rate
limits, Redis outages) in test_waiting_room_abuse.py.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from booking.web.gate import COOKIE
from booking.web.queue_state import get_queue
from tests.support import person_json
from tests.waiting.support import (
    HOST,
    add_slots,
    admission_cookie,
    api_confirm,
    api_hold,
    api_join,
    api_token,
    bearer,
    browser_admitted,
    client_confirms,
    clinic_of,
    counters,
    html_details,
    html_hold,
    join_form,
    problem,
    revoke,
    session_value,
    set_admission_cookie,
    set_cookies,
    text,
)

# The gate -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["always", "auto", "paused"])
def test_api_holds_and_confirms_are_refused_without_an_admission_token(build, now, mode):
    app = build(QUEUE_MODE=mode)
    (slot,) = add_slots(app, now, 2)
    client = app.test_client()
    refused = api_hold(client, slot)
    body = problem(refused, 401)
    assert body["type"] == "urn:fairslot:problem:admission-required"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
    problem(api_hold(client, slot, "not-a-token"), 401)
    assert counters(app, slot) == (0, 0)
    if mode == "paused":
        return  # nobody can get a token while paused
    token = api_token(client)
    held = api_hold(client, slot, token)
    assert held.status_code == 201
    hold_id = held.get_json()["hold_id"]
    refused = api_confirm(client, hold_id, person_json(1))
    problem(refused, 401)
    assert refused.headers["WWW-Authenticate"].startswith("Bearer ")
    assert counters(app, slot) == (1, 0)
    assert api_confirm(client, hold_id, person_json(1), token).status_code == 201
    assert counters(app, slot) == (0, 1)


def test_html_hold_without_admission_goes_to_the_waiting_room_in_always_mode(build, now):
    app = build(QUEUE_MODE="always")
    (slot,) = add_slots(app, now, 2)
    client = app.test_client()
    response = html_hold(client, slot)
    assert response.status_code == 303
    clinic = clinic_of(app, slot)
    # Back to the slot's own day, vaccine and time after the line.
    back = f"/clinics/{clinic}?date=2026-03-03&vaccine=janssen-covid19&slot={slot}"
    to_room = urlsplit(response.headers["Location"])
    assert to_room.path == "/waiting-room" and parse_qs(to_room.query) == {"next": [back]}
    assert admission_cookie(client) is None
    assert counters(app, slot) == (0, 0)
    # Following the link keeps where to go back to.
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert session_value(client, "qnext") == back

    # Confirming needs the admission too.
    token = browser_admitted(client)
    book_url = html_hold(client, slot).headers["Location"]
    assert book_url.startswith("/book/")
    client.delete_cookie(COOKIE, domain=HOST)
    refused = client.post(book_url, data=html_details(client))
    assert refused.status_code == 303
    assert refused.headers["Location"] == f"/waiting-room?next={book_url}"
    assert counters(app, slot) == (1, 0)
    set_admission_cookie(client, token)
    assert client_confirms(client, book_url)
    assert counters(app, slot) == (0, 1)


def test_auto_mode_with_room_admits_transparently_and_queues_when_full(build, now):
    app = build(QUEUE_MODE="auto", QUEUE_MAX_ACTIVE=1)
    (slot,) = add_slots(app, now, 3)
    client = app.test_client()
    response = html_hold(client, slot)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/book/")
    assert admission_cookie(client)
    assert counters(app, slot) == (1, 0)
    # The one place is taken while the first visitor books: the next one waits in line instead.
    other = app.test_client()
    queued = html_hold(other, slot)
    assert queued.status_code == 303
    assert queued.headers["Location"].startswith("/waiting-room?next=")
    assert admission_cookie(other) is None
    assert counters(app, slot) == (1, 0)
    booked = client.post(response.headers["Location"], data=html_details(client))
    assert booked.status_code == 303
    assert booked.headers["Location"] == "/confirmation"
    assert counters(app, slot) == (0, 1)
    # Booking freed the place: the visitor in line is let in on their next try.
    again = html_hold(other, slot)
    assert again.headers["Location"].startswith("/book/")
    assert admission_cookie(other)
    assert counters(app, slot) == (1, 1)


def test_with_the_queue_off_everything_passes_without_tokens(build, now):
    app = build(QUEUE_MODE="off")
    (slot,) = add_slots(app, now, 3)
    api = app.test_client()
    held = api_hold(api, slot)
    assert held.status_code == 201
    assert api_confirm(api, held.get_json()["hold_id"], person_json(2)).status_code == 201
    browser = app.test_client()
    response = html_hold(browser, slot)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/book/")
    assert client_confirms(browser, response.headers["Location"])
    assert counters(app, slot) == (0, 2)


# Tokens -------------------------------------------------------------------------------------------


def _forgeries(token, other_ticket):
    version, ticket, expiry, signature = token.split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    return {
        "signature changed": f"{version}.{ticket}.{expiry}.{flipped}",
        "life extended": f"{version}.{ticket}.{int(expiry) + 3600}.{signature}",
        "other ticket": f"{version}.{other_ticket}.{expiry}.{signature}",
        "other version": f"v2.{ticket}.{expiry}.{signature}",
        "truncated": f"{version}.{ticket}.{expiry}",
    }


def test_api_tokens_tampered_expired_or_revoked_are_refused(build, now, later):
    app = build(QUEUE_IDLE_MINUTES=120, QUEUE_SESSION_MINUTES=20)
    (slot,) = add_slots(app, now, 5)
    client = app.test_client()
    first = api_join(client)
    token = first["admission_token"]
    second = api_join(client)
    for name, forged in _forgeries(token, second["ticket"]).items():
        assert api_hold(client, slot, forged).status_code == 401, name
    assert api_hold(client, slot, token).status_code == 201

    # Revoked: the second ticket's token stops working at once.
    other = second["admission_token"]
    assert api_hold(client, slot, other).status_code == 201
    revoke(app, second["ticket"])
    problem(api_hold(client, slot, other), 401)

    # Expired: a whole session length later the token is refused, although the ticket is still
    # admitted (the idle limit is long here), as a freshly issued token shows.
    later(minutes=21)
    problem(api_hold(client, slot, token), 401)
    fresh = client.get(f"/api/v1/queue/tickets/{first['ticket']}").get_json()["admission_token"]
    assert fresh != token
    assert api_hold(client, slot, fresh).status_code == 201


def test_browser_tokens_tampered_expired_or_revoked_are_refused(build, now, later):
    app = build(QUEUE_IDLE_MINUTES=120, QUEUE_SESSION_MINUTES=20)
    (slot,) = add_slots(app, now, 5)
    browser = app.test_client()
    token = browser_admitted(browser)
    ticket = session_value(browser, "qticket")
    for name, forged in _forgeries(token, "someone-else").items():
        set_admission_cookie(browser, forged)
        response = html_hold(browser, slot)
        assert response.status_code == 303, name
        assert response.headers["Location"].startswith("/waiting-room?next="), name
    set_admission_cookie(browser, token)
    assert html_hold(browser, slot).headers["Location"].startswith("/book/")

    later(minutes=21)
    assert html_hold(browser, slot).headers["Location"].startswith("/waiting-room?next=")
    # The status page issues a fresh cookie for the still-admitted ticket, which works.
    assert "It is your turn" in text(browser.get("/waiting-room/status"))
    assert admission_cookie(browser) != token
    assert html_hold(browser, slot).headers["Location"].startswith("/book/")

    revoke(app, ticket)
    assert html_hold(browser, slot).headers["Location"].startswith("/waiting-room?next=")
    assert counters(app, slot) == (1, 0)  # each admitted hold replaced the previous one


def test_tokens_only_work_in_the_session_they_were_issued_to(build, now):
    app = build()
    (slot,) = add_slots(app, now, 5)
    alice, bob = app.test_client(), app.test_client()
    alice_token = browser_admitted(alice)
    bob_token = browser_admitted(bob)
    api_client = app.test_client()
    api_only = api_token(api_client)

    # Alice's cookie copied into Bob's browser (which has its own session) is refused.
    set_admission_cookie(bob, alice_token)
    assert html_hold(bob, slot).headers["Location"].startswith("/waiting-room?next=")
    # An API token put in a browser cookie is refused.
    set_admission_cookie(bob, api_only)
    assert html_hold(bob, slot).headers["Location"].startswith("/waiting-room?next=")
    # A browser's cookie token sent as an API bearer token is refused.
    problem(api_hold(api_client, slot, alice_token), 401)
    assert counters(app, slot) == (0, 0)

    # Each token still works where it belongs.
    set_admission_cookie(bob, bob_token)
    assert html_hold(bob, slot).headers["Location"].startswith("/book/")
    assert html_hold(alice, slot).headers["Location"].startswith("/book/")
    assert api_hold(api_client, slot, api_only).status_code == 201
    assert counters(app, slot) == (3, 0)


def test_active_tokens_are_renewed_past_half_their_life(build, now, later):
    app = build(QUEUE_IDLE_MINUTES=120, QUEUE_SESSION_MINUTES=20)
    (slot,) = add_slots(app, now, 5)
    api, browser = app.test_client(), app.test_client()
    token = api_token(api)
    cookie = browser_admitted(browser)
    early = api_hold(api, slot, token)
    assert early.status_code == 201
    assert "X-Admission-Token" not in early.headers
    first = html_hold(browser, slot)
    assert first.headers["Location"].startswith("/book/")
    assert "fairslot_admission=" not in set_cookies(first)

    later(minutes=11)
    renewed_response = api_hold(api, slot, token)
    assert renewed_response.status_code == 201
    renewed = renewed_response.headers["X-Admission-Token"]
    assert renewed != token
    second = html_hold(browser, slot)
    assert second.headers["Location"].startswith("/book/")
    assert "fairslot_admission=" in set_cookies(second)
    assert admission_cookie(browser) != cookie

    # Past the first tokens' lifetimes, only the renewed ones work.
    later(minutes=10)
    problem(api_hold(api, slot, token), 401)
    assert api_hold(api, slot, renewed).status_code == 201
    assert html_hold(browser, slot).headers["Location"].startswith("/book/")
    set_admission_cookie(browser, cookie)
    assert html_hold(browser, slot).headers["Location"].startswith("/waiting-room?next=")


# The API flow -------------------------------------------------------------------------------------


def test_api_flow_from_ticket_to_booking_and_the_line_moving_on(build, now, later):
    app = build(QUEUE_MAX_ACTIVE=1, QUEUE_IDLE_MINUTES=5)
    first_slot, second_slot = add_slots(app, now, 2, 2)
    client = app.test_client()

    response = client.post("/api/v1/queue/tickets", json={})
    assert response.status_code == 201
    alice = response.get_json()
    assert {"ticket", "state", "position", "eta_seconds", "poll_after_seconds"} <= set(alice)
    assert alice["state"] == "admitted"
    polled = client.get(f"/api/v1/queue/tickets/{alice['ticket']}")
    assert polled.status_code == 200
    token = polled.get_json()["admission_token"]

    bob = api_join(client)
    assert bob["state"] == "waiting"
    assert bob["position"] == 1
    assert bob["ahead"] == 0
    assert bob["eta_seconds"] > 0
    assert bob["poll_after_seconds"] > 0
    assert "admission_token" not in bob

    # One admitted session holds at most one slot: a second hold gives the first back.
    held = api_hold(client, first_slot, token)
    assert held.status_code == 201
    assert counters(app, first_slot) == (1, 0)
    moved = api_hold(client, second_slot, token)
    assert moved.status_code == 201
    assert counters(app, first_slot) == (0, 0)
    assert counters(app, second_slot) == (1, 0)
    # Bob waits while Alice is active (holding a time counts as active)...
    waiting = client.get(f"/api/v1/queue/tickets/{bob['ticket']}").get_json()
    assert (waiting["state"], waiting["position"]) == ("waiting", 1)
    assert "admission_token" not in waiting
    confirmed = api_confirm(client, moved.get_json()["hold_id"], person_json(3), token)
    assert confirmed.status_code == 201
    assert counters(app, second_slot) == (0, 1)

    # ...and gets in as soon as she has booked: her place in the line is freed on confirmation.
    admitted = client.get(f"/api/v1/queue/tickets/{bob['ticket']}").get_json()
    assert admitted["state"] == "admitted"
    assert api_hold(client, first_slot, admitted["admission_token"]).status_code == 201

    # Carol waits behind Bob, who holds a time and then walks away: she gets in once he has
    # been idle for too long.
    carol = api_join(client)
    later(minutes=3)
    waiting = client.get(f"/api/v1/queue/tickets/{carol['ticket']}").get_json()
    assert (waiting["state"], waiting["position"]) == ("waiting", 1)
    later(minutes=3)
    admitted = client.get(f"/api/v1/queue/tickets/{carol['ticket']}").get_json()
    assert admitted["state"] == "admitted"


def test_a_browser_booking_frees_its_place_in_the_line_at_once(build, now):
    app = build(QUEUE_MAX_ACTIVE=1, QUEUE_IDLE_MINUTES=5)
    (slot,) = add_slots(app, now, 2)
    first = app.test_client()
    browser_admitted(first)
    second = app.test_client()
    assert join_form(second).status_code == 303
    assert "It is your turn" not in text(second.get("/waiting-room/status"))

    held = html_hold(first, slot)
    assert held.headers["Location"].startswith("/book/")
    assert "It is your turn" not in text(second.get("/waiting-room/status"))
    assert client_confirms(first, held.headers["Location"])
    assert counters(app, slot) == (0, 1)

    assert "It is your turn" in text(second.get("/waiting-room/status"))
    assert html_hold(second, slot).headers["Location"].startswith("/book/")


def test_a_redis_failure_freeing_the_place_does_not_fail_the_booking(
    build, now, monkeypatch, caplog
):
    app = build(QUEUE_MAX_ACTIVE=1, QUEUE_IDLE_MINUTES=5)
    (slot,) = add_slots(app, now, 2)
    client = app.test_client()
    alice = api_join(client)
    token = client.get(f"/api/v1/queue/tickets/{alice['ticket']}").get_json()["admission_token"]
    bob = api_join(client)
    with app.app_context():
        queue = get_queue()

    def broken(ticket):
        raise RedisConnectionError("connection reset by peer")

    monkeypatch.setattr(queue, "leave", broken)
    held = api_hold(client, slot, token)
    assert held.status_code == 201
    confirmed = api_confirm(client, held.get_json()["hold_id"], person_json(5), token)
    assert confirmed.status_code == 201, text(confirmed)[:1000]
    assert confirmed.get_json()["confirmation_code"]
    assert counters(app, slot) == (0, 1)
    assert "keeps its active place" in caplog.text
    # The place was not freed, so Bob still waits (until Alice idles out).
    waiting = client.get(f"/api/v1/queue/tickets/{bob['ticket']}").get_json()
    assert waiting["state"] == "waiting"


def test_browser_tickets_and_unknown_tickets_are_not_found_through_the_api(build, now):
    app = build()
    add_slots(app, now, 2)
    browser = app.test_client()
    browser_admitted(browser)
    ticket = session_value(browser, "qticket")
    assert ticket
    problem(app.test_client().get(f"/api/v1/queue/tickets/{ticket}"), 404)
    problem(browser.get(f"/api/v1/queue/tickets/{ticket}"), 404)
    problem(browser.get("/api/v1/queue/tickets/no-such-ticket"), 404)
    problem(browser.get("/api/v1/queue/tickets/" + "x" * 100), 404)


# Metrics ------------------------------------------------------------------------------------------


def _metrics(response):
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    values = {}
    for line in text(response).splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_metrics_report_the_line_admissions_and_inventory(build, now):
    app = build(QUEUE_MAX_ACTIVE=1)
    add_slots(app, now, 2, 3)
    client = app.test_client()
    for _ in range(3):
        api_join(client)
    values = _metrics(client.get("/metrics"))
    assert values["fairslot_queue_waiting"] == 2
    assert values["fairslot_queue_active"] == 1
    assert values["fairslot_queue_admitted_last_minute"] == 1
    assert values["fairslot_queue_admit_per_minute"] == 300  # the setting: autotune is off
    assert values["fairslot_inventory_remaining"] == 5
    assert values["fairslot_queue_redis_up"] == 1
    assert values['fairslot_queue_mode{mode="always"}'] == 1
    assert values['fairslot_queue_mode{mode="off"}'] == 0


def test_metrics_need_the_bearer_token_when_one_is_set(build, now):
    app = build(METRICS_TOKEN="metrics-s3cret")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=bearer("wrong")).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "metrics-s3cret"}).status_code == 401
    values = _metrics(client.get("/metrics", headers=bearer("metrics-s3cret")))
    assert values['fairslot_queue_mode{mode="always"}'] == 1


# OpenAPI ------------------------------------------------------------------------------------------


def test_openapi_lists_the_queue_and_the_bearer_gate(build):
    app = build()
    document = app.test_client().get("/api/openapi.json").get_json()
    paths = document["paths"]
    assert "post" in paths["/api/v1/queue/tickets"]
    assert "get" in paths["/api/v1/queue/tickets/{ticket}"]
    scheme = document["components"]["securitySchemes"]["admission"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path in ("/api/v1/holds", "/api/v1/holds/{hold_id}/confirm"):
        operation = paths[path]["post"]
        assert operation["security"] == [{"admission": []}, {}]  # none while the room is off
        assert "401" in operation["responses"]
    assert "security" not in paths["/api/v1/queue/tickets"]["post"]
    ticket = document["components"]["schemas"]["QueueTicket"]
    assert {"ticket", "state", "position", "eta_seconds", "poll_after_seconds"} <= set(
        ticket["required"]
    )
