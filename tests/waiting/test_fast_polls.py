"""The fast poll layer answers exactly what Flask's views answer, and refuses the same way.

Every comparison polls the same ticket twice, once with ``FAST_POLLS`` on and once off, and
checks the status, the headers (in order) and the body byte for byte; ``flask_calls`` shows
which of the two actually answered, so a layer that quietly passed everything on would fail.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from flask import Flask

from booking.web.fast_polls import FastPolls
from booking.web.queue_state import queue_of
from tests.waiting.support import HOST, add_slots, api_join, api_token, join_form, revoke

REQUEST_ID = "fast-poll-test-0001"


def flask_calls(app: Flask) -> list[str]:
    """Record each request that reaches Flask behind the fast layer (its path)."""
    layer = app.wsgi_app
    while not isinstance(layer, FastPolls):
        layer = layer.app  # type: ignore[attr-defined]  # the proxy fix wraps it
    seen: list[str] = []
    inner = layer.wsgi_app

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    layer.wsgi_app = counted
    return seen


def both_ways(app: Flask, client: Any, method: str, url: str, **kwargs: Any) -> tuple[Any, Any]:
    """The answer with the fast layer on, then off (same jitter for both)."""
    answers = []
    headers = {"X-Request-ID": REQUEST_ID, **kwargs.pop("headers", {})}
    for fast in (True, False):
        app.config["FAST_POLLS"] = fast
        queue_of(app).rng = random.Random(7)
        answers.append(client.open(url, method=method, headers=headers, **kwargs))
    app.config["FAST_POLLS"] = True
    return answers[0], answers[1]


def same(fast: Any, slow: Any) -> None:
    assert fast.status == slow.status
    assert fast.headers.to_wsgi_list() == slow.headers.to_wsgi_list()
    assert fast.get_data() == slow.get_data()


@pytest.fixture
def line(build: Any, now: Any) -> tuple[Flask, Any, str, Any]:
    """An app whose one place is taken: (app, API client, its waiting ticket, a waiting browser)."""
    app = build(QUEUE_MAX_ACTIVE=1, QUEUE_ADMIT_PER_MINUTE=1)
    add_slots(app, now, 2)
    api_token(app.test_client())
    api = app.test_client()
    ticket = api_join(api)["ticket"]
    browser = app.test_client()
    assert join_form(browser).status_code == 303
    return app, api, ticket, browser


def test_a_waiting_poll_is_answered_byte_for_byte_as_flask_would(line):
    app, api, ticket, browser = line
    seen = flask_calls(app)
    fast, slow = both_ways(app, api, "GET", f"/api/v1/queue/tickets/{ticket}")
    assert fast.status_code == 200 and fast.get_json()["state"] == "waiting"
    same(fast, slow)
    fast, slow = both_ways(app, browser, "GET", "/waiting-room/status.json")
    assert fast.status_code == 200 and fast.get_json()["position"] == 2
    same(fast, slow)
    assert seen == [f"/api/v1/queue/tickets/{ticket}", "/waiting-room/status.json"]


def test_foreign_forged_and_lapsed_tickets_are_refused_as_flask_refuses_them(line, later):
    app, api, ticket, browser = line
    with browser.session_transaction() as session:
        browser_ticket = session["qticket"]
    seen = flask_calls(app)
    # A browser's ticket over the API, an API ticket in another browser's session, a made-up
    # ticket, a session cookie signed with another key.
    same(*both_ways(app, api, "GET", f"/api/v1/queue/tickets/{browser_ticket}"))
    refused = []
    for fast in (True, False):  # a new browser each time: Flask drops the ticket it refuses
        other = app.test_client()
        with other.session_transaction() as session:
            session.update(qticket=ticket, qsid="someone-else")
        app.config["FAST_POLLS"] = fast
        refused.append(other.get("/waiting-room/status.json", headers={"X-Request-ID": REQUEST_ID}))
    app.config["FAST_POLLS"] = True
    assert refused[0].get_json()["state"] == "lapsed"
    same(*refused)
    same(*both_ways(app, api, "GET", "/api/v1/queue/tickets/" + "A" * 43))
    forged = app.test_client()
    forged.set_cookie(
        "session", "eyJxdGlja2V0IjoieCIsInFzaWQiOiJ5In0.aaaa.bbbb", domain="fairslot.test"
    )
    same(*both_ways(app, forged, "GET", "/waiting-room/status.json"))
    assert len(seen) == 8  # every refusal is Flask's own
    revoke(app, ticket)  # a ticket taken back is refused as a lapsed one
    lapsed = both_ways(app, api, "GET", f"/api/v1/queue/tickets/{ticket}")
    assert lapsed[0].status_code == 404
    same(*lapsed)


def test_an_admitted_poll_is_flasks_to_answer_with_its_token(line, later):
    app, api, ticket, _ = line
    seen = flask_calls(app)
    later(minutes=30)  # the one admitted user went idle: the next in line is let in
    fast, slow = both_ways(app, api, "GET", f"/api/v1/queue/tickets/{ticket}")
    assert fast.get_json()["state"] == "admitted" and fast.get_json()["admission_token"]
    same(fast, slow)
    assert len(seen) == 2


API = "/api/v1/queue/tickets/"
PAGE = "/waiting-room/status.json"


@pytest.mark.parametrize(
    ("method", "url", "query"),  # query: a query string, or extra headers
    [
        ("GET", API + "ab%00cd", None),  # NUL in the ticket
        ("GET", API + "x" * 65, None),  # longer than any ticket
        ("GET", API + "{ticket}/", None),
        ("GET", API + "{ticket}", "x=" + "y" * 20_000),  # a huge query string
        ("GET", API + "{ticket}", "x=%00"),
        ("POST", API + "{ticket}", None),
        ("DELETE", API + "{ticket}", None),
        ("GET", API + "{ticket}", {"Host": "evil.example"}),  # a Host not served
        ("GET", API + "{ticket}", {"Idempotency-Key": "a\x00b"}),  # a header the guard checks
        ("GET", API + "{ticket}", {"Cookie": "fairslot_staff=x"}),  # staff count apart
        ("GET", PAGE + "/", None),
        ("GET", PAGE, "next=%00"),
        ("HEAD", PAGE, None),
        ("POST", PAGE, None),
    ],
)
def test_hostile_polls_go_to_flask_and_get_its_answer(line, method, url, query):
    app, api, ticket, browser = line
    seen = flask_calls(app)
    client = api if url.startswith(API) else browser
    headers = dict(query) if isinstance(query, dict) else {}
    query = None if isinstance(query, dict) else query
    if "Cookie" in headers:  # the test client sends its own jar's cookies, not this header
        name, _, value = headers.pop("Cookie").partition("=")
        client.set_cookie(name, value, domain=HOST)
    url = url.format(ticket=ticket)
    fast, slow = both_ways(app, client, method, url, query_string=query, headers=headers)
    same(fast, slow)
    assert len(seen) == 2


def test_a_poll_refused_for_its_rate_counts_once_either_way(build, now):
    app = build(QUEUE_MAX_ACTIVE=1, QUEUE_POLL_RATE_LIMIT="3 per minute")
    add_slots(app, now, 2)
    api_token(app.test_client())
    browser = app.test_client()
    assert join_form(browser).status_code == 303
    seen = flask_calls(app)
    codes = []
    for fast in (True, False, True, True):
        app.config["FAST_POLLS"] = fast
        codes.append(browser.get("/waiting-room/status.json").status_code)
    assert codes == [200, 200, 200, 429]
    assert len(seen) == 2  # the slow poll, and the refusal the fast layer handed on


def test_a_fast_poll_writes_the_request_line_flask_would(line):
    """Operations see every poll in the JSON log, with its id, whichever layer answered."""
    import io
    import json
    import logging

    from booking.logs import JsonFormatter, RequestIdFilter

    app, api, ticket, _browser = line
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    request_log = logging.getLogger("fairslot.request")
    request_log.addHandler(handler)
    level = request_log.level
    request_log.setLevel(logging.INFO)
    seen = flask_calls(app)
    try:
        both_ways(app, api, "GET", f"/api/v1/queue/tickets/{ticket}")
    finally:
        request_log.removeHandler(handler)
        request_log.setLevel(level)
    fast, slow = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert seen == [f"/api/v1/queue/tickets/{ticket}"]  # the first was answered in front
    for entry in (fast, slow):
        assert entry.pop("duration_ms") >= 0
        entry.pop("time")
    assert fast == slow
    assert fast["request_id"] == REQUEST_ID and fast["status"] == 200
