"""The waiting room under abuse and failure: hCaptcha, rate limits behind proxies, Redis outages."""

from __future__ import annotations

import pytest

from tests.support import RedisServer, person_json
from tests.waiting.support import (
    GOOD_ANSWERS,
    SiteverifyStub,
    add_slots,
    admission_cookie,
    api_confirm,
    api_hold,
    api_join,
    api_token,
    browser_admitted,
    counters,
    csrf,
    html_details,
    html_hold,
    join_form,
    problem,
    session_value,
    text,
)

ROBOT = "Please complete the check that you are not a robot, then try again."


@pytest.fixture
def stub():
    with SiteverifyStub() as server:
        yield server


def api_captcha(client, response):
    return client.post("/api/v1/queue/tickets", json={"hcaptcha_response": response})


def html_captcha(client, response):
    return join_form(client, **{"h-captcha-response": response})


def refused_because(response):
    body = problem(response, 422)
    return {e["pointer"]: e["detail"] for e in body["errors"]}["#/hcaptcha_response"]


# hCaptcha -----------------------------------------------------------------------------------------


def test_hcaptcha_through_the_api(build, now, stub):
    app = build(**stub.config())
    add_slots(app, now, 2)
    client = app.test_client()

    joined = api_captcha(client, "response-1")
    assert joined.status_code == 201, text(joined)
    assert stub.received == [
        {
            "secret": "0x-test-secret",
            "response": "response-1",
            "sitekey": "10000000-ffff-ffff-ffff-000000000001",
            "remoteip": "127.0.0.1",
        }
    ]
    assert refused_because(client.post("/api/v1/queue/tickets", json={})) == (
        "missing-input-response"
    )
    # The same solved challenge cannot be used twice (not even asked of hCaptcha again).
    assert refused_because(api_captcha(client, "response-1")) == "already-seen-response"
    assert len(stub.received) == 1

    stub.mode = "failure"
    assert refused_because(api_captcha(client, "response-2")) == "invalid-input-response"
    stub.mode = "wrong-host"
    assert refused_because(api_captcha(client, "response-3")) == "wrong-hostname"
    assert [r["response"] for r in stub.received] == ["response-1", "response-2", "response-3"]
    stub.mode = "success"
    assert api_captcha(client, "response-4").status_code == 201


def test_hcaptcha_on_the_waiting_room_form(build, now, stub):
    app = build(**stub.config())
    add_slots(app, now, 2)
    page = app.test_client().get("/waiting-room")
    assert 'class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001"' in text(page)

    alice = app.test_client()
    joined = html_captcha(alice, "form-response-1")
    assert joined.status_code == 303
    assert joined.headers["Location"] == "/waiting-room/status"
    assert stub.received[-1]["response"] == "form-response-1"
    assert stub.received[-1]["secret"] == "0x-test-secret"
    assert stub.received[-1]["remoteip"] == "127.0.0.1"

    missing = app.test_client()
    refused = html_captcha(missing, None)
    assert refused.status_code == 422
    assert ROBOT in text(refused)

    replay = app.test_client()  # another browser reusing Alice's solved challenge
    refused = html_captcha(replay, "form-response-1")
    assert refused.status_code == 422
    assert ROBOT in text(refused)
    assert session_value(replay, "qticket") is None

    for mode in ("failure", "wrong-host"):
        stub.mode = mode
        browser = app.test_client()
        refused = html_captcha(browser, f"form-response-{mode}")
        assert refused.status_code == 422, mode
        assert ROBOT in text(refused)
        assert session_value(browser, "qticket") is None
    assert len(stub.received) == 3  # success, failure and wrong host were asked; no more


@pytest.mark.parametrize("failure", ["slow", "error", "refused"])
@pytest.mark.parametrize("policy", ["open", "closed"])
def test_hcaptcha_unreachable_follows_the_policy(build, now, stub, policy, failure):
    overrides = {"HCAPTCHA_UNREACHABLE": policy}
    if failure == "refused":
        overrides["HCAPTCHA_VERIFY_URL"] = unused_local_url()
    else:
        stub.mode = failure
    app = build(**stub.config(**overrides))
    add_slots(app, now, 2)

    api = api_captcha(app.test_client(), f"api-{failure}")
    browser = app.test_client()
    form = html_captcha(browser, f"form-{failure}")
    if policy == "open":
        assert api.status_code == 201, text(api)
        assert form.status_code == 303
        assert session_value(browser, "qticket")
    else:
        assert refused_because(api).startswith("siteverify-")
        assert form.status_code == 422
        assert ROBOT in text(form)
        assert session_value(browser, "qticket") is None
    expected = 0 if failure == "refused" else 2
    assert len(stub.received) == expected


def unused_local_url():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/siteverify"


# Rate limits and proxies --------------------------------------------------------------------------


def _join_codes(client, forwarded_for, remote_addr="10.0.0.1"):
    response = client.post(
        "/api/v1/queue/tickets",
        json={},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": remote_addr},
    )
    return response


def test_forged_forwarded_for_entries_share_one_bucket_behind_one_proxy(build, now):
    app = build(PROXY_COUNT=1, QUEUE_JOIN_RATE_LIMIT="3 per minute")
    add_slots(app, now, 2)
    client = app.test_client()
    responses = [_join_codes(client, f"203.0.113.{i}, 198.51.100.7") for i in range(5)]
    assert [r.status_code for r in responses] == [201, 201, 201, 429, 429]
    problem(responses[3], 429)
    assert int(responses[3].headers["Retry-After"]) > 0
    # A different client, as seen by our proxy, has its own allowance.
    assert _join_codes(client, "203.0.113.1, 198.51.100.8").status_code == 201

    # The HTML form is limited the same way.
    browser = app.test_client()
    token = csrf(browser)
    codes = [
        browser.post(
            "/waiting-room",
            data={"csrf_token": token, **GOOD_ANSWERS},
            headers={"X-Forwarded-For": f"192.0.2.{i}, 198.51.100.9"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [303, 303, 303, 429]


def test_status_polls_past_the_allowance_get_429_with_retry_after_per_client(build, now):
    app = build(PROXY_COUNT=1, QUEUE_POLL_RATE_LIMIT="3 per minute", QUEUE_MAX_ACTIVE=1)
    add_slots(app, now, 2)
    api_token(app.test_client())  # takes the one place, so the rest wait in line
    client = app.test_client()
    ticket = api_join(client)["ticket"]

    def poll(address):
        headers = {"X-Forwarded-For": f"203.0.113.9, {address}"}  # as our proxy saw them
        return client.get(f"/api/v1/queue/tickets/{ticket}", headers=headers)

    assert [poll("198.51.100.5").status_code for _ in range(3)] == [200, 200, 200]
    limited = poll("198.51.100.5")
    assert problem(limited, 429)["detail"]
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert poll("198.51.100.6").status_code == 200  # another client's own allowance

    # The page and its script are counted the same way, and told when to come back.
    browser = app.test_client()
    assert join_form(browser).status_code == 303
    pages = [browser.get("/waiting-room/status") for _ in range(2)]
    pages += [browser.get("/waiting-room/status.json") for _ in range(2)]
    assert [p.status_code for p in pages] == [200, 200, 200, 429]
    assert int(pages[3].headers["Retry-After"]) > 0
    refused = browser.get("/waiting-room/status")
    assert refused.status_code == 429
    assert "Too many attempts from your connection" in text(refused)


def test_a_malformed_poll_limit_is_refused_at_start(build):
    with pytest.raises(RuntimeError, match="QUEUE_POLL_RATE_LIMIT"):
        build(QUEUE_POLL_RATE_LIMIT="often")


def test_without_trusted_proxies_forwarded_for_is_ignored(build, now):
    app = build(PROXY_COUNT=0, QUEUE_JOIN_RATE_LIMIT="3 per minute")
    add_slots(app, now, 2)
    client = app.test_client()
    codes = [_join_codes(client, f"203.0.113.{i}").status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    assert _join_codes(client, "203.0.113.99", remote_addr="10.0.0.2").status_code == 201


# Redis outages ------------------------------------------------------------------------------------


@pytest.fixture
def private_redis():
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


def test_redis_outage_lets_admitted_users_finish_and_asks_newcomers_to_wait(
    build, now, private_redis
):
    app = build(REDIS_URL=private_redis.url, QUEUE_MODE="always")
    first, second, third = add_slots(app, now, 3, 3, 3)
    api = app.test_client()
    token = api_token(api)
    browser = app.test_client()
    browser_admitted(browser)
    held = api_hold(api, first, token)
    assert held.status_code == 201
    seen = []

    def check(response):
        seen.append(response)
        assert response.status_code != 500, text(response)[:2000]
        return response

    private_redis.stop()

    # Admitted users can still hold and confirm.
    moved = check(api_hold(api, second, token))
    assert moved.status_code == 201
    assert counters(app, first) == (0, 0)
    confirmed = check(api_confirm(api, moved.get_json()["hold_id"], person_json(4), token))
    assert confirmed.status_code == 201
    book = check(html_hold(browser, third))
    assert book.headers["Location"].startswith("/book/")
    done = check(browser.post(book.headers["Location"], data=html_details(browser)))
    assert done.headers["Location"] == "/confirmation"
    assert counters(app, second) == (0, 1)
    assert counters(app, third) == (0, 1)

    # Newcomers are asked to come back shortly, not let through unchecked.
    joined = check(app.test_client().post("/api/v1/queue/tickets", json={}))
    problem(joined, 503)
    assert int(joined.headers["Retry-After"]) > 0
    newcomer = app.test_client()
    refused = check(api_hold(newcomer, first))
    problem(refused, 401)
    form = check(join_form(newcomer))
    assert form.status_code == 503
    assert int(form.headers["Retry-After"]) > 0
    assert "briefly unavailable" in text(form)
    assert session_value(newcomer, "qticket") is None
    redirected = check(html_hold(newcomer, first))
    assert redirected.headers["Location"].startswith("/waiting-room?next=")
    assert admission_cookie(newcomer) is None
    status = check(browser.get("/waiting-room/status"))
    assert status.status_code == 503
    assert int(status.headers["Retry-After"]) > 0
    figures = check(browser.get("/waiting-room/status.json"))
    assert (figures.status_code, figures.get_json()["state"]) == (503, "unavailable")
    assert int(figures.headers["Retry-After"]) > 0
    polled = check(api.get("/api/v1/queue/tickets/anything"))
    problem(polled, 503)
    ready = check(app.test_client().get("/readyz"))
    assert ready.status_code == 503
    assert ready.get_json()["failing"] == ["redis"]
    metrics = check(app.test_client().get("/metrics"))
    assert "fairslot_queue_redis_up 0" in text(metrics)
    assert counters(app, first) == (0, 0)

    # Back on the same port: the waiting room works again.
    private_redis.start()
    assert app.test_client().get("/readyz").status_code == 200
    assert api_join(app.test_client())["state"] == "admitted"
    again = app.test_client()
    assert join_form(again).status_code == 303
    assert "It is your turn" in text(again.get("/waiting-room/status"))
