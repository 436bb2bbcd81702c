"""Log lines: one JSON object each, every line of a request carrying its id, and the messages it
writes carrying it to the worker that sends them."""

from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import select

from booking import correlation
from booking.db import db
from booking.jobs import tasks
from booking.logs import JsonFormatter, RequestIdFilter, configure
from booking.models import OutboxMessage
from tests.support import person_json
from tests.waiting.support import add_slots, api_confirm, api_hold


@pytest.fixture
def lines():
    """Capture the root logger's output as the JSON formatter writes it; yield a reader."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_line_of_a_request_is_json_with_the_id_nginx_passed(app, client, lines):
    response = client.get("/healthz", headers={"X-Request-ID": "nginx-0123abcd"})
    assert response.headers["X-Request-ID"] == "nginx-0123abcd"
    logging.getLogger("test").info("outside any request")
    (answered, outside) = lines()
    assert answered["request_id"] == "nginx-0123abcd"
    assert (answered["logger"], answered["method"], answered["path"], answered["status"]) == (
        "fairslot.request",
        "GET",
        "/healthz",
        200,
    )
    assert answered["duration_ms"] >= 0 and answered["time"].endswith("+00:00")
    assert outside["request_id"] is None  # the id does not leak past its request


@pytest.mark.parametrize(
    "presented",
    [None, "", "short", "x" * 65, "spaces are not ids", "colon:is-not-ok", "nul\x00byte-id"],
)
def test_a_missing_or_implausible_id_is_replaced_by_a_new_one(app, client, lines, presented):
    headers = {"X-Request-ID": presented} if presented is not None else {}
    response = client.get("/healthz?secret=never-logged", headers=headers)
    made = response.headers["X-Request-ID"]
    assert made != presented and len(made) == 32 and int(made, 16) >= 0
    (answered,) = lines()
    assert answered["request_id"] == made
    assert "never-logged" not in json.dumps(answered)  # the query string is not logged


def test_the_request_line_can_be_switched_off_and_the_id_still_travels(
    database_url, clock, tmp_path, lines
):
    from tests.conftest import rolled_back_app

    with rolled_back_app(database_url, clock, tmp_path, REQUEST_LOG=False) as quiet:
        response = quiet.test_client().get("/healthz", headers={"X-Request-ID": "quiet-0123abcd"})
    assert response.headers["X-Request-ID"] == "quiet-0123abcd"
    assert lines() == []


def test_a_line_with_newlines_and_an_exception_stays_one_json_object(lines):
    try:
        raise ValueError("two\nlines")
    except ValueError:
        logging.getLogger("test").exception("failed:\n%s", "here", extra={"slot_id": 7})
    (line,) = lines()  # one line, though message and exception span several
    assert line["slot_id"] == 7 and line["message"] == "failed:\nhere"
    assert "ValueError: two\nlines" in line["exception"]


def test_messages_written_in_a_request_carry_its_id_to_the_worker(app, now, monkeypatch):
    (slot,) = add_slots(app, now, 2)
    client = app.test_client()
    headers = {"X-Request-ID": "booking-request-42"}
    held = api_hold(client, slot)
    body = person_json(1, email="rid@example.com")
    confirmed = client.post(
        f"/api/v1/holds/{held.get_json()['hold_id']}/confirm", json=body, headers=headers
    )
    assert confirmed.status_code == 201
    other = api_hold(client, slot)
    assert api_confirm(client, other.get_json()["hold_id"], person_json(2)).status_code == 201
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        ours = [m for m in rows if m.payload["request_id"] == "booking-request-42"]
        assert ours and len(ours) < len(rows)  # the other booking's have their own id
        seen = []

        def deliver(*args, **kwargs):
            seen.append(correlation.current())
            return "provider-1"

        monkeypatch.setattr(tasks, "deliver", deliver)
        assert tasks.send_message(ours[0].id) == "sent"
        assert seen == ["booking-request-42"]
        assert correlation.current() is None  # unbound once the job is done


def test_configure_writes_json_or_text(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("json")
        logging.getLogger("x").warning("hello")
        assert json.loads(capsys.readouterr().err)["message"] == "hello"
        configure("text")
        logging.getLogger("x").warning("hello")
        assert capsys.readouterr().err.rstrip().endswith("WARNING x [None] hello")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_configure_replaces_only_its_own_handler(caplog):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("json")
        configure("text")  # an app built twice
        ours = [h for h in root.handlers if h.get_name() == "fairslot"]
        assert len(ours) == 1
        logging.getLogger("x").warning("still captured")
        assert "still captured" in caplog.text  # the test runner's handler stayed
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
