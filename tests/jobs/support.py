"""Helpers for the jobs tests: the local SMTP sink and an SMS API stub, running jobs, booking."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from flask import Flask
from sqlalchemy import select

from bench.sinks import SmtpSink
from booking.db import db
from booking.jobs.handoff import HANDOFF_KEY
from booking.jobs.tasks import relay_outbox
from booking.jobs.worker import InProcessWorker
from booking.models import OutboxMessage
from booking.redis_client import redis_of
from booking.services import holds, reservations
from tests.support import ANSWERS, make_clinic, make_slot, person


class SmsStub:
    """A Twilio-compatible Messages API on 127.0.0.1 that honours idempotency keys.

    ``delivered`` holds one entry per distinct key (what reached phones); ``requests`` every
    POST. ``fail(n, status)`` answers the next n requests with an error; ``hold`` makes the next
    request wait, after it was accepted, until ``release`` is set.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.failures: list[int] = []
        self.hold = threading.Event()
        self.received = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                key = self.headers.get("Idempotency-Key")
                request = {"form": form, "key": key, "auth": self.headers.get("Authorization")}
                with stub.lock:
                    stub.requests.append(request)
                    status = stub.failures.pop(0) if stub.failures else None
                    if status is None:
                        known = stub.delivered.get(key) if key else None
                        if known is None:
                            known = {"sid": f"SM{len(stub.delivered) + 1:032d}", **form}
                            stub.delivered[key or known["sid"]] = known
                if status is not None:
                    self._answer(status, {"message": "provider trouble", "code": status})
                    return
                if stub.hold.is_set():
                    stub.received.set()
                    stub.release.wait(60)
                self._answer(201, {"sid": known["sid"], "status": "queued"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client is gone (a killed worker)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/2010-04-01/Accounts/AC1/Messages.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> SmsStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def fail(self, times: int, status: int = 503) -> None:
        self.failures = [status] * times

    def config(self) -> dict[str, Any]:
        return {
            "SMS_API_URL": self.url,
            "SMS_ACCOUNT_SID": "AC1",
            "SMS_AUTH_TOKEN": "secret-token",
            "SMS_FROM": "+16175550000",
        }


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@contextmanager
def servers() -> Iterator[tuple[SmtpSink, SmsStub]]:
    smtp, sms = SmtpSink().start(), SmsStub().start()
    try:
        yield smtp, sms
    finally:
        smtp.stop()
        sms.stop()


def run_jobs(
    app: Flask,
    *,
    until: datetime | None = None,
    housekeeping: bool = False,
    relay: bool = False,
) -> bool:
    """Run every queued job (and scheduled ones due by ``until``, default the app's clock).

    With ``relay``, the outbox relay runs first at the app's clock, as every worker's
    housekeeping does each minute: it schedules the messages (reminders) that came due.
    """
    if relay:
        with app.app_context():
            relay_outbox()
    worker = InProcessWorker(app, redis_of(app), housekeeping=housekeeping)
    return worker.run_due(until=until)


def handed_off(app: Flask) -> list[str]:
    """The entries on the hand-off list that no drain has taken yet."""
    return [raw.decode() for raw in redis_of(app).lrange(HANDOFF_KEY, 0, -1)]


def book(
    app: Flask,
    now: datetime,
    *,
    days: float = 3,
    n: int = 1,
    email_address: str | None = "resident@example.com",
    phone: str | None = "+16175550123",
    capacity: int = 5,
) -> dict[str, Any]:
    """Create a clinic and slot and confirm a booking in one committed unit of work."""

    def work(session: Any) -> dict[str, Any]:
        clinic = make_clinic(session, now)
        slot = make_slot(session, clinic, now + timedelta(days=days), capacity=capacity)
        other = make_slot(session, clinic, now + timedelta(days=days + 1), capacity=capacity)
        hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
        done = reservations.confirm_hold(
            session,
            hold.hold_token,
            person(n, email=email_address, phone=phone),
            now=now,
            secret_key=app.config["SECRET_KEY"],
            answers=ANSWERS,
            admission_ticket=None,
        )
        return {
            "reservation_id": done.reservation.id,
            "code": done.reservation.confirmation_code,
            "slot": slot,
            "other_slot": other,
            "clinic": clinic,
        }

    with app.app_context():
        return db.transaction(work)


def messages(app: Flask, **filters: Any) -> list[OutboxMessage]:
    """The outbox rows, oldest first."""
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id).filter_by(**filters)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()  # detached but loaded: readable after the context ends
        db.session.rollback()
        return rows


def shutdown_redis() -> None:
    """A job that takes its worker's Redis down (the worker tests: Redis lost mid-run)."""
    import contextlib

    import redis
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    # The server closes the connection on its way down, as it should.
    with contextlib.suppress(redis.ConnectionError):
        job.connection.shutdown(nosave=True)
