"""What the failover drills share: the crowd (browsers and API clients on threads), the scratch
database, the app's environment, a restarted RQ worker, and the checks that no acknowledged
booking or message was lost or doubled (bench/failover_redis.py, bench/failover_postgres.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.sinks import SmtpSink

DOB = "04/27/1950"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Log:
    """Every request the crowd made, (seconds since start, who, what, HTTP status or 0)."""

    start: float = field(default_factory=time.monotonic)
    rows: list[tuple[float, str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: list[str] = field(default_factory=list)  # emails of bookings the client saw confirmed
    rejoined: int = 0  # browsers whose ticket was gone for good (they joined again)
    api_lost: int = 0  # API tickets gone (a bare id: nothing to restore from)

    def record(self, who: str, what: str, status: int) -> None:
        """Add one request's outcome."""
        with self.lock:
            self.rows.append((time.monotonic() - self.start, who, what, status))


# The app's warnings when it puts back what Redis lost (booking.web.gate).
RESTORED = {"waiting": "restored a waiting ticket", "admission": "restored an admission"}


class RestoreCounter(logging.Handler):
    """Counts the app's 'restored ...' warnings (booking.web.gate)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record if it is a restore."""
        message = record.getMessage()
        for kind, said in RESTORED.items():
            if message.startswith(said):
                self.counts[kind] += 1


def call(log: Log, who: str, what: str, send: Any, *args: Any, **kwargs: Any) -> Any:
    """One request, ``send(*args, **kwargs)``; an exception (a 500 raised) is logged as 0."""
    try:
        response = send(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the drill counts every failure the user would see
        log.record(who, what, 0)
        return None
    log.record(who, what, response.status_code)
    return response


def browser(app: Any, log: Log, i: int, slots: list[int], deadline: float) -> None:
    """A resident in a browser: the waiting room, then hold and book one slot."""
    from tests.support import booking_form, person

    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = f"10.2.{i // 250}.{i % 250 + 1}"
    who = f"b{i}"
    joined = False
    while time.monotonic() < deadline:
        if not joined:
            page = call(log, who, "join-form", c.get, "/waiting-room")
            token = CSRF.search(page.get_data(as_text=True)) if page is not None else None
            if token is None:
                time.sleep(0.5)
                continue
            answers = {"csrf_token": token.group(1), "service": "covid19", "resident": "yes"}
            answers["date_of_birth"] = DOB
            posted = call(log, who, "join", c.post, "/waiting-room", data=answers)
            joined = posted is not None and posted.status_code == 303
            if not joined:
                time.sleep(0.5)
            continue
        status = call(log, who, "poll", c.get, "/waiting-room/status.json")
        body = status.get_json() if status is not None and status.status_code == 200 else {}
        if body.get("state") == "lapsed":
            log.rejoined += 1
            joined = False
            continue
        if body.get("state") != "admitted":
            time.sleep(0.3)
            continue
        slot = slots[i % len(slots)]
        lookup = call(log, who, "csrf", c.get, "/lookup")
        token = CSRF.search(lookup.get_data(as_text=True)) if lookup is not None else None
        if token is None:
            time.sleep(0.3)
            continue
        form = {"csrf_token": token.group(1), "date_of_birth": DOB}
        held = call(log, who, "hold", c.post, f"/slots/{slot}/hold", data=form)
        where = held.headers.get("Location", "") if held is not None else ""
        if not where.startswith("/book/"):
            time.sleep(0.3)
            continue
        p = person(i)
        email = f"b{i}@drill.example"
        details = booking_form(
            token.group(1), first_name=p.first_name, last_name="Browser", email=email, phone=None
        )
        done = call(log, who, "confirm", c.post, where, data=details)
        if done is not None and done.headers.get("Location") == "/confirmation":
            with log.lock:
                log.acked.append(email)
            return
        time.sleep(0.3)


def api_client(app: Any, log: Log, i: int, slots: list[int], deadline: float) -> None:
    """A resident through the API: a ticket, polls, a hold and a confirm with the bearer."""
    from tests.support import person_json

    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = f"10.3.{i // 250}.{i % 250 + 1}"
    who, ticket = f"a{i}", None
    while time.monotonic() < deadline:
        if ticket is None:
            made = call(log, who, "join", c.post, "/api/v1/queue/tickets", json={})
            if made is None or made.status_code != 201:
                time.sleep(0.5)
                continue
            ticket = made.get_json()["ticket"]
        polled = call(log, who, "poll", c.get, f"/api/v1/queue/tickets/{ticket}")
        if polled is not None and polled.status_code == 404:
            log.api_lost += 1
            ticket = None
            continue
        body = polled.get_json() if polled is not None and polled.status_code == 200 else {}
        if body.get("state") != "admitted":
            time.sleep(0.3)
            continue
        auth = {"Authorization": f"Bearer {body['admission_token']}"}
        slot = slots[(i + 7) % len(slots)]
        held = call(log, who, "hold", c.post, "/api/v1/holds", json={"slot_id": slot}, headers=auth)
        if held is None or held.status_code != 201:
            time.sleep(0.3)
            continue
        email = f"a{i}@drill.example"
        person = person_json(5000 + i, email=email)
        del person["phone"]  # email only: the drill's sink is SMTP
        hold_id = held.get_json()["hold_id"]
        confirm_url = f"/api/v1/holds/{hold_id}/confirm"
        done = call(log, who, "confirm", c.post, confirm_url, json=person, headers=auth)
        if done is not None and done.status_code == 201:
            with log.lock:
                log.acked.append(email)
            return
        time.sleep(0.3)


def quiet() -> None:
    """Keep the in-process app's one line per request out of the drill's output."""
    for name in ("fairslot.request", "mail.log"):  # mail.log: the SMTP sink's conversation
        logging.getLogger(name).setLevel(logging.WARNING)


def start_crowd(
    app: Any, log: Log, args: argparse.Namespace, slots: list[int], deadline: float
) -> list[threading.Thread]:
    """Start ``args.browsers`` browsers and ``args.api`` API clients, spread over the arrival."""
    threads = [
        threading.Thread(target=browser, args=(app, log, i, slots, deadline), daemon=True)
        for i in range(args.browsers)
    ] + [
        threading.Thread(target=api_client, args=(app, log, i, slots, deadline), daemon=True)
        for i in range(args.api)
    ]
    for thread in threads:
        thread.start()
        time.sleep(args.arrive_over / len(threads))
    return threads


def seed(url: str, slots: int, capacity: int) -> list[int]:
    """Migrate the scratch database and add one clinic's slots tomorrow; return their ids."""
    from booking.migrate import upgrade
    from booking.models import Clinic
    from tests.support import make_clinic, make_slot

    upgrade(url)
    engine = create_engine(url)
    from sqlalchemy.orm import Session

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with Session(engine) as session:
        clinic: Clinic = make_clinic(session, datetime.now(UTC))
        ids = [
            make_slot(session, clinic, tomorrow + timedelta(minutes=15 * k), capacity=capacity).id
            for k in range(slots)
        ]
        session.commit()
    engine.dispose()
    return ids


def app_env(redis: dict[str, str], url: str, smtp: SmtpSink) -> dict[str, str]:
    """The production settings the app and the worker share (loopback, ``redis``, SMTP sink)."""
    return {
        **redis,
        "FAIRSLOT_ENV": "production",
        "FAIRSLOT_SECRET_KEY": secrets.token_urlsafe(32),
        "FAIRSLOT_PUBLIC_URL": "http://127.0.0.1:28001",
        "FAIRSLOT_PRIVATE_NETWORK": "true",
        "FAIRSLOT_DATABASE_URL": url,
        "FAIRSLOT_SMTP_HOST": "127.0.0.1",
        "FAIRSLOT_SMTP_PORT": str(smtp.port),
        "FAIRSLOT_SMTP_SECURITY": "none",
        "FAIRSLOT_HOUSEKEEPING_SECONDS": "1",
        # A send cut off with its worker is tried again after its lease: short, so the drill's
        # wait for the last confirmations sees it through.
        "FAIRSLOT_MESSAGE_LEASE_SECONDS": "20",
        "FAIRSLOT_QUEUE_MODE": "always",
        "FAIRSLOT_QUEUE_MAX_ACTIVE": "2",
        "FAIRSLOT_QUEUE_ADMIT_PER_MINUTE": "600",
        "FAIRSLOT_QUEUE_POLL_RATE_LIMIT": "",
        "FAIRSLOT_QUEUE_JOIN_RATE_LIMIT": "1000 per minute",
        "FAIRSLOT_HOLD_RATE_LIMIT": "1000 per minute",
        "FAIRSLOT_LOOKUP_RATE_LIMIT": "1000 per minute",
    }


class Worker:
    """``flask worker`` in a child process, started again whenever it exits (as systemd does)."""

    def __init__(self, env: dict[str, str], logfile: Path) -> None:
        self.env = {**os.environ, **env}
        self.logfile = logfile
        self.starts = 0
        self.stopping = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.thread = threading.Thread(target=self._supervise, daemon=True)

    def _supervise(self) -> None:
        flask = str(Path(sys.executable).parent / "flask")
        with open(self.logfile, "ab") as out:
            while not self.stopping.is_set():
                self.starts += 1
                self.process = subprocess.Popen(
                    [flask, "--app", "wsgi", "worker"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=out,
                )
                while self.process.poll() is None and not self.stopping.is_set():
                    time.sleep(0.2)
                if not self.stopping.is_set():
                    time.sleep(1)  # systemd's RestartSec

    def start(self) -> Worker:
        """Start supervising."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop the worker and its supervisor."""
        self.stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.thread.join(timeout=20)


def errors_after(log: Log, at: float) -> dict[str, Any]:
    """What users saw after ``at``: error answers, by status, and the window they fell in."""
    bad = [
        (t, who, status)
        for t, who, _, status in log.rows
        if t >= at and (status >= 500 or status == 0)
    ]
    if not bad:
        return {"errors": 0, "users": 0, "first_s": None, "last_s": None, "by_status": {}}
    return {
        "errors": len(bad),
        "users": len({who for _, who, _ in bad}),
        "first_s": round(bad[0][0] - at, 2),
        "last_s": round(max(t for t, _, _ in bad) - at, 2),
        "by_status": dict(Counter(str(status) for _, _, status in bad)),
        "by_step": dict(
            Counter(
                what
                for t, _, what, status in log.rows
                if t >= at and (status >= 500 or status == 0)
            )
        ),
    }


def check_bookings(url: str, log: Log, smtp: SmtpSink, timeout: float) -> dict[str, Any]:
    """Every acknowledged booking once in the database, one confirmation email each."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout

    def scalar(sql: str) -> int:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)

    pending = (
        "SELECT count(*) FROM outbox_message WHERE kind = 'confirmation' "
        "AND status IN ('queued', 'sending')"
    )
    while scalar(pending) and time.monotonic() < deadline:
        time.sleep(0.5)
    with engine.connect() as connection:
        emails = Counter(
            row[0]
            for row in connection.execute(
                text("SELECT lower(email) FROM reservation WHERE status = 'confirmed'")
            )
        )
    delivered = smtp.counts()
    acked = Counter(log.acked)
    result = {
        "acknowledged": len(log.acked),
        "confirmed_in_db": sum(emails.values()),
        "acknowledged_missing": sum(1 for e in acked if emails.get(e, 0) == 0),
        "booked_twice": sum(1 for n in emails.values() if n > 1),
        "overbooked_slots": scalar("SELECT count(*) FROM slot WHERE held + booked > capacity"),
        "messages": scalar("SELECT count(*) FROM outbox_message WHERE kind = 'confirmation'"),
        "messages_pending": scalar(pending),
        "emails_missing": sum(1 for e in emails if delivered.get(e, 0) == 0),
        "emails_doubled": sum(1 for e in emails if delivered.get(e, 0) > 1),
        "duplicate_message_ids": smtp.duplicate_ids(),
    }
    engine.dispose()
    return result


def crowd_arguments(parser: argparse.ArgumentParser, *, kill_at: float) -> None:
    """The options both drills share: the crowd, when the primary dies, where figures go."""
    parser.add_argument("--browsers", type=int, default=60)
    parser.add_argument("--api", type=int, default=20)
    parser.add_argument("--arrive-over", type=float, default=4.0, help="seconds of arrivals")
    parser.add_argument("--kill-at", type=float, default=kill_at, help="seconds in, it dies")
    parser.add_argument("--seconds", type=float, default=60.0, help="the crowd gives up then")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--front",
        choices=["nginx", "in-process"],
        default="nginx",
        help="nginx: the crowd over HTTP through the shipped site to two gunicorn pools; "
        "in-process: Flask test clients on the app in this process",
    )


def drill_main(run: Any, args: argparse.Namespace) -> None:
    """Run a drill, print its figures and keep them where ``--json`` says."""
    figures = run(args)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
