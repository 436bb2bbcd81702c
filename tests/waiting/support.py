"""Helpers shared by the waiting-room tests: apps with the queue on, joining and admission."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from flask import Flask

from booking.db import db
from booking.models import Slot
from booking.web.gate import COOKIE
from booking.web.queue_state import get_queue
from tests.support import DOB, booking_form, csrf_from, make_clinic, make_slot

HOST = "fairslot.test"
PROBLEM = "application/problem+json"
GOOD_ANSWERS = {"service": "covid19", "date_of_birth": "04/27/1950", "resident": "yes"}
POSITION_RE = re.compile(r'<dd data-field="position">(\d+)</dd>')
REFRESH_RE = re.compile(r'<noscript><meta http-equiv="refresh" content="(\d+)"></noscript>')
CONTINUE_RE = re.compile(r'<a class="button" href="([^"]*)">Continue to booking</a>')


def add_slots(app: Flask, now: datetime, *capacities: int) -> list[int]:
    """Commit open slots tomorrow (one per capacity); return their ids."""
    with app.app_context():
        clinic = make_clinic(db.session, now)
        ids = [
            make_slot(db.session, clinic, now + timedelta(days=1, hours=i), capacity=c).id
            for i, c in enumerate(capacities or (2,))
        ]
        db.session.commit()
        return ids


def clinic_of(app: Flask, slot_id: int) -> int:
    with app.app_context():
        return db.session.get(Slot, slot_id).clinic_id


def counters(app: Flask, slot_id: int) -> tuple[int, int]:
    """(held, booked) of a slot."""
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        return slot.held, slot.booked


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def problem(response: Any, status: int) -> dict[str, Any]:
    """Assert an application/problem+json answer with this status; return its body."""
    assert response.status_code == status, text(response)[:1000]
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_join(client: Any, **body: Any) -> dict[str, Any]:
    """Take an API ticket; return the 201 body."""
    response = client.post("/api/v1/queue/tickets", json=body)
    assert response.status_code == 201, text(response)[:1000]
    return response.get_json()


def api_token(client: Any) -> str:
    """Join through the API and expect to be let in at once; return the bearer token."""
    body = api_join(client)
    assert body["state"] == "admitted", body
    return body["admission_token"]


def api_hold(client: Any, slot_id: int, token: str | None = None) -> Any:
    headers = bearer(token) if token else {}
    return client.post("/api/v1/holds", json={"slot_id": slot_id}, headers=headers)


def api_confirm(client: Any, hold_id: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = bearer(token) if token else {}
    return client.post(f"/api/v1/holds/{hold_id}/confirm", json=body, headers=headers)


def csrf(client: Any) -> str:
    return csrf_from(text(client.get("/lookup")))


def join_form(client: Any, *, next_url: str | None = None, **answers: Any) -> Any:
    """Load the eligibility form and post it (good answers unless overridden)."""
    query = {"next": next_url} if next_url is not None else None
    page = client.get("/waiting-room", query_string=query)
    assert page.status_code == 200, text(page)[:1000]
    form = {"csrf_token": csrf_from(text(page)), **GOOD_ANSWERS, **answers}
    return client.post("/waiting-room", data={k: v for k, v in form.items() if v is not None})


def browser_admitted(client: Any, **kwargs: Any) -> str:
    """Join through the waiting room, expect to be let in at once; return the cookie token."""
    joined = join_form(client, **kwargs)
    assert joined.status_code == 303, text(joined)[:1000]
    page = client.get("/waiting-room/status")
    assert page.status_code == 200
    assert "It is your turn" in text(page)
    token = admission_cookie(client)
    assert token, "no admission cookie after being let in"
    return token


def admission_cookie(client: Any) -> str | None:
    cookie = client.get_cookie(COOKIE, domain=HOST)
    return cookie.value if cookie is not None else None


def set_admission_cookie(client: Any, token: str) -> None:
    client.set_cookie(COOKIE, token, domain=HOST)


def session_value(client: Any, key: str) -> Any:
    with client.session_transaction() as sess:
        return sess.get(key)


def html_hold(client: Any, slot_id: int) -> Any:
    return client.post(
        f"/slots/{slot_id}/hold", data={"csrf_token": csrf(client), "date_of_birth": DOB}
    )


def client_confirms(client: Any, book_url: str) -> bool:
    """Post the details form for a held time; True if it was booked."""
    response = client.post(book_url, data=html_details(client))
    return response.status_code == 303 and response.headers["Location"] == "/confirmation"


def set_cookies(response: Any) -> str:
    """Every Set-Cookie header of a response, in one string."""
    return "\n".join(response.headers.getlist("Set-Cookie"))


def revoke(app: Flask, ticket: str) -> None:
    with app.app_context():
        assert get_queue().revoke(ticket)


def position(page: Any) -> int:
    """The place in line shown on the status page."""
    match = POSITION_RE.search(text(page))
    assert match, text(page)[:3000]
    return int(match.group(1))


def html_details(client: Any, **overrides: Any) -> dict[str, str]:
    return booking_form(csrf(client), **overrides)


class SiteverifyStub:
    """A local stand-in for hCaptcha's siteverify endpoint, on a free loopback port.

    ``mode`` chooses the answer: ``success``, ``failure``, ``slow`` (sleeps past the app's
    timeout, then succeeds), ``error`` (HTTP 500) or ``wrong-host``.
    """

    def __init__(self) -> None:
        self.mode = "success"
        self.sleep_seconds = 2.5
        self.received: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                stub.received.append({k: v[0] for k, v in form.items()})
                if self.path != "/siteverify":
                    self._reply(404, {})
                elif stub.mode == "error":
                    self._reply(500, {"error": "boom"})
                elif stub.mode == "failure":
                    self._reply(200, {"success": False, "error-codes": ["invalid-input-response"]})
                else:
                    if stub.mode == "slow":
                        time.sleep(stub.sleep_seconds)
                    host = "evil.example" if stub.mode == "wrong-host" else HOST
                    self._reply(200, {"success": True, "hostname": host})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the app gave up waiting (the timeout case)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/siteverify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SiteverifyStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """App settings that turn hCaptcha on against this stub."""
        values: dict[str, Any] = {
            "HCAPTCHA_SITE_KEY": "10000000-ffff-ffff-ffff-000000000001",
            "HCAPTCHA_SECRET": "0x-test-secret",
            "HCAPTCHA_VERIFY_URL": self.url,
            "HCAPTCHA_HOSTNAMES": HOST,
            "HCAPTCHA_TIMEOUT_SECONDS": 1,
        }
        values.update(overrides)
        return values
