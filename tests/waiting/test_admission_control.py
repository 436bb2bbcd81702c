"""Admission that tunes itself, in the app: what is measured, the admit step, the admin's pin."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from admission import health
from admission.control import Decision
from booking.db import db
from booking.models import AuditEntry
from booking.web.booking_health import queued_seconds
from booking.web.queue_state import get_queue
from tests.staff.support import admin_client
from tests.support import csrf_from
from tests.waiting.support import add_slots, api_join, text

TUNED = {"QUEUE_AUTOTUNE": True, "QUEUE_ADMIT_PER_MINUTE": 4, "QUEUE_ADMIT_MIN_PER_MINUTE": 1}


@pytest.fixture
def app(build):
    """The shared fixtures (accounts, admin) on an app whose admission tunes itself."""
    return build(**TUNED)


def window(app, clock):
    """The booking path's figures over the ten seconds before a second from now."""
    with app.app_context():
        queue = get_queue()
        raw = health.read(queue.redis, queue.prefix, now=clock().timestamp() + 1, seconds=10)
        return health.summarize(raw, seconds=10, target_ms=500)


def test_booking_requests_are_measured_and_the_waiting_room_is_not(app, clock):
    client = app.test_client()
    for path in ("/", "/api/v1/clinics"):
        assert client.get(path).status_code < 500  # answered: measured, whatever the answer
    for path in ("/waiting-room/status", "/api/v1/queue/tickets/nope", "/healthz", "/metrics"):
        client.get(path)
    api_join(client)
    got = window(app, clock)
    assert (got.requests, got.slow, got.errors) == (2, 0, 0)


def test_a_server_error_on_the_booking_path_counts_as_slow(app, clock):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken():
        raise RuntimeError("the database fell over")

    app.view_functions["api.list_clinics"] = broken
    assert app.test_client().get("/api/v1/clinics").status_code == 500
    got = window(app, clock)
    assert (got.requests, got.errors, got.slow) == (1, 1, 1)


@pytest.mark.parametrize(
    ("proxies", "trusted", "counted"), [(0, False, 0), (1, False, 0), (0, True, 0), (1, True, 1)]
)
def test_the_proxys_start_stamp_counts_only_when_trusted_behind_the_proxy(
    build, clock, proxies, trusted, counted
):
    import time

    app = build(
        QUEUE_MODE="off", PROXY_COUNT=proxies, TRUST_REQUEST_START=trusted, QUEUE_AUTOTUNE=True
    )
    stamp = f"t={time.time() - 2:.3f}"  # two seconds in nginx's backlog
    app.test_client().get("/api/v1/clinics", headers={"X-Request-Start": stamp})
    assert window(app, clock).slow == counted  # a client's own header is never trusted


def test_with_autotune_off_booking_requests_are_not_measured(build, clock):
    app = build(QUEUE_MODE="off")
    app.test_client().get("/api/v1/clinics")
    assert window(app, clock).requests == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 0.0),
        ("t=1700000000.5", 1.5),  # nginx's $msec
        ("1700000000.5", 1.5),
        ("t=1700000000500", 1.5),  # milliseconds
        ("t=1700000000500000", 1.5),  # microseconds
        ("t=1700000003", 0.0),  # in the future: a skewed or forged stamp
        ("t=1699999900", 0.0),  # over a minute: not believable
        ("t=nan", 0.0),
        ("t=1e400", 0.0),
        ("t=\x00", 0.0),
        ("garbage", 0.0),
    ],
)
def test_start_stamps_are_read_in_nginx_formats_and_nonsense_is_ignored(header, expected):
    assert queued_seconds(header, 1_700_000_002.0) == pytest.approx(expected)


def record_slow_window(queue, clock, requests=40):
    """A second of booking requests all slower than the target, just before ``clock()``."""
    for _ in range(requests):
        health.record(
            queue.redis,
            queue.prefix,
            ended_at=clock().timestamp() - 1,
            latency_ms=3000,
            error=False,
            target_ms=500,
        )


def test_the_admit_step_uses_the_controllers_rate(app, clock):
    add_slots(app, clock(), 50)
    client = app.test_client()
    states = [api_join(client)["state"] for _ in range(6)]
    assert states.count("admitted") == 4  # the starting rate
    with app.app_context():
        queue = get_queue()
        record_slow_window(queue, clock)
        view = queue.control.view(4, now=clock().timestamp() + 6)
        assert (view.state.decision, view.rate) == (Decision.CUT, 2)


def test_a_cut_starts_from_the_admissions_the_queue_logged_when_fewer(build, clock):
    # The rate allows 600 a minute, but only three came in the window (18 a minute): a cut of
    # the rate (to 420) would let the same people in; a cut from the admissions binds.
    app = build(**{**TUNED, "QUEUE_ADMIT_PER_MINUTE": 600})
    add_slots(app, clock(), 50)
    client = app.test_client()
    assert [api_join(client)["state"] for _ in range(3)] == ["admitted"] * 3
    with app.app_context():
        queue = get_queue()
        record_slow_window(queue, clock)
        view = queue.control.view(600, now=clock().timestamp() + 6)
        assert (view.state.decision, view.rate) == (Decision.CUT, 12)  # 18 x 0.7


def admin_page(admin):
    page = admin.get("/admin/queue")
    assert page.status_code == 200
    return text(page)


def rate_audit(app):
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.startswith("queue.rate"))
            .order_by(AuditEntry.id)
        ).all()
        return [(row.action, row.detail) for row in rows]


def test_admins_see_the_controller_and_can_pin_and_unpin_a_rate_audited(app, clock, accounts):
    admin = admin_client(app, clock)
    add_slots(app, clock(), 50)
    api_join(app.test_client())  # a step: nobody waiting after this one is let in
    page = admin_page(admin)
    assert "set by the controller between 1 and 3,000" in page
    assert 'data-field="decision"' in page
    token = csrf_from(page)
    pinned = admin.post(
        "/admin/queue/rate", data={"action": "pin", "rate": "2", "csrf_token": token}
    )
    assert pinned.status_code == 303
    assert "2 per minute, pinned by an admin" in admin_page(admin)
    client = app.test_client()
    assert [api_join(client)["state"] for _ in range(3)].count("admitted") == 1  # 2 a minute
    dashboard = text(admin.get("/admin/dashboard"))
    assert "2 per minute, pinned by an admin" in dashboard
    assert "\nfairslot_queue_admit_per_minute 2\n" in text(client.get("/metrics"))
    unpinned = admin.post("/admin/queue/rate", data={"action": "unpin", "csrf_token": token})
    assert unpinned.status_code == 303
    assert "pinned" not in admin_page(admin).split("Admission rate")[1].split("<h2")[0]
    assert rate_audit(app) == [
        ("queue.rate_pin", {"from": 4, "to": 2}),
        ("queue.rate_unpin", {"pinned": 2}),
    ]


BAD_PINS = [
    {"action": "pin", "rate": "0"},
    {"action": "pin", "rate": "-3"},
    {"action": "pin", "rate": "1000001"},
    {"action": "pin", "rate": "12.5"},
    {"action": "pin", "rate": "1\x00"},
    {"action": "pin", "rate": "\u0663"},  # a digit, but not an ASCII one
    {"action": "pin"},
    {"action": "reset", "rate": "5"},
    {"rate": "5"},
]


def test_a_bad_pin_is_refused_with_the_form_and_changes_nothing(app, clock, accounts):
    admin = admin_client(app, clock)
    token = csrf_from(admin_page(admin))
    for form in BAD_PINS:
        refused = admin.post("/admin/queue/rate", data={**form, "csrf_token": token})
        assert refused.status_code in (400, 422), form
        if refused.status_code == 422:
            assert 'name="rate"' in text(refused)  # the form again
    with app.app_context():
        assert get_queue().control.view(4, now=clock().timestamp()).pinned is None
    assert rate_audit(app) == []


def test_only_a_state_admin_with_a_form_token_can_pin(app, clock, accounts):
    admin = admin_client(app, clock)
    refused = admin.post("/admin/queue/rate", data={"action": "pin", "rate": "9"})
    assert refused.status_code == 400  # no CSRF token
    anonymous = app.test_client().post("/admin/queue/rate", data={"action": "pin", "rate": "9"})
    assert anonymous.status_code in (302, 303, 400, 401, 403)
    with app.app_context():
        assert get_queue().control.view(4, now=clock().timestamp()).pinned is None


def test_with_autotune_off_there_is_nothing_to_pin(app, clock, accounts):
    with app.app_context():
        control = get_queue().control
        control.config = replace(control.config, enabled=False)
        get_queue().update_settings(admit_per_minute=7)
    admin = admin_client(app, clock)
    page = admin_page(admin)
    assert "7 per minute, fixed (automatic tuning is off)" in page
    assert 'action="/admin/queue/rate"' not in page
    refused = admin.post(
        "/admin/queue/rate", data={"action": "pin", "rate": "3", "csrf_token": csrf_from(page)}
    )
    assert refused.status_code == 409
    assert rate_audit(app) == []


def test_a_new_starting_rate_saved_by_an_admin_restarts_the_controller_from_it(
    app, clock, accounts
):
    add_slots(app, clock(), 50)
    client = app.test_client()
    for _ in range(3):
        api_join(client)  # a step at the configured 4 a minute
    with app.app_context():
        assert get_queue().control.view(4, now=clock().timestamp()).state is not None
    admin = admin_client(app, clock)
    page = admin_page(admin)
    assert "the controller starts from this rate" in page
    form = {"admit_per_minute": "40", "csrf_token": csrf_from(page)}
    assert admin.post("/admin/queue", data=form).status_code == 303
    with app.app_context():
        queue = get_queue()
        view = queue.control.view(queue.settings().admit_per_minute, now=clock().timestamp())
        assert (view.rate, view.state) == (40, None)  # forgotten: starts again at 40
    assert "40 per minute, set by the controller" in admin_page(admin)
