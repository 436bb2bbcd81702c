"""What bench.rounds runs beside the round: the booking and polling load it measures against,
and the workers that send the messages the round queued."""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.stack import BIN, ROOT, Stack

# The waiting room's live settings (as bench.scenario sets them; that module needs aiohttp).
QUEUE_SETTINGS = "{fairslot:queue}:settings"


def _xff(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}


APPS: dict[str, Any] = {}


def app_for(stack: Stack) -> Any:
    """The app this process drives, built once per stack (production settings)."""
    if "app" not in APPS:
        os.environ.update(stack.env())
        from booking.app import create_app

        APPS["app"] = create_app()
        # One log line per request of the load would cost as much as the requests.
        logging.getLogger("fairslot.request").setLevel(logging.WARNING)
    return APPS["app"]


class Load:
    """Four threads booking (hold + confirm) and one polling a ticket, each call timed."""

    def __init__(self, stack: Stack, redis: Any, slot_ids: list[int]) -> None:
        self.app = app_for(stack)
        self.slot_ids = slot_ids
        self.samples: list[tuple[str, float, float]] = []  # (kind, started, seconds)
        self.stop = threading.Event()
        self.counter = iter(range(1, 1 << 30))
        self.lock = threading.Lock()
        client = self.app.test_client()
        redis.hset(QUEUE_SETTINGS, mapping={"mode": "always", "admit_per_minute": 1})
        self.tickets = [
            client.post("/api/v1/queue/tickets", json={}, headers=_xff(i)).get_json()["ticket"]
            for i in range(20)
        ]
        redis.hset(QUEUE_SETTINGS, mapping={"mode": "off"})
        time.sleep(2.1)  # the app caches live settings for 2 s

    def _next(self) -> int:
        with self.lock:
            return next(self.counter)

    def book(self) -> None:
        """Hold and confirm places until told to stop."""
        client = self.app.test_client()
        while not self.stop.is_set():
            i = self._next()
            start = time.perf_counter()
            headers = {**_xff(i), "Idempotency-Key": uuid.uuid4().hex}
            held = client.post(
                "/api/v1/holds",
                json={"slot_id": self.slot_ids[i % len(self.slot_ids)]},
                headers=headers,
            )
            assert held.status_code == 201, held.get_data(as_text=True)
            person = {
                "first_name": "Round",
                "last_name": f"B{uuid.uuid4().hex[:10]}",
                "date_of_birth": "1970-01-01",
                "resident": True,
                "email": f"b{i}@bench.example",
            }
            done = client.post(
                f"/api/v1/holds/{held.get_json()['hold_id']}/confirm", json=person, headers=_xff(i)
            )
            assert done.status_code == 201, done.get_data(as_text=True)
            self.samples.append(("booking", start, time.perf_counter() - start))

    def poll(self) -> None:
        """Poll waiting-room tickets until told to stop."""
        client = self.app.test_client()
        while not self.stop.is_set():
            i = self._next()
            start = time.perf_counter()
            answer = client.get(
                f"/api/v1/queue/tickets/{self.tickets[i % len(self.tickets)]}", headers=_xff(i)
            )
            assert answer.status_code < 500
            self.samples.append(("poll", start, time.perf_counter() - start))
            time.sleep(0.01)

    def start(self) -> list[threading.Thread]:
        """Start the threads."""
        threads = [threading.Thread(target=self.book) for _ in range(4)]
        threads.append(threading.Thread(target=self.poll))
        for thread in threads:
            thread.start()
        return threads


def summarize(samples: list[float]) -> dict[str, Any]:
    """Count, median, p95 and worst of latencies, in milliseconds."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1e3, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1e3, 1),
        "max_ms": round(ordered[-1] * 1e3, 1),
    }


def _only_invitations_queued(stack: Stack) -> None:
    """Empty the job queue of the load's booking confirmations: the invitation messages alone
    are queued again (as the relay would), so the workers send nothing else."""
    from sqlalchemy import select

    from booking.db import db
    from booking.jobs.queue import enqueue_message, get_queue
    from booking.models import OutboxMessage

    app = app_for(stack)
    with app.app_context():
        queue = get_queue()
        queue.empty()
        ids = db.session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.invitation_id.is_not(None), OutboxMessage.status == "queued"
            )
        ).all()
        moment = datetime.now(UTC)
        for start in range(0, len(ids), 1000):
            with queue.connection.pipeline() as pipe:
                pipe.multi()
                for message_id in ids[start : start + 1000]:
                    enqueue_message(queue, message_id, due_at=moment, now=moment, pipeline=pipe)
                pipe.execute()


def send(stack: Stack, seconds: float) -> dict[str, Any]:
    """Two RQ workers sending the queued invitation messages to local sinks for ``seconds``
    (the load's booking confirmations are cancelled first: the workers skip them)."""
    from bench.sinks import SmsSink, SmtpSink, free_port

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    _only_invitations_queued(stack)

    smtp_port, sms_port = free_port(), free_port()
    smtp, sms = SmtpSink(smtp_port).start(), SmsSink(sms_port).start()
    env = {
        **stack.env(),
        "FAIRSLOT_SMTP_HOST": "127.0.0.1",
        "FAIRSLOT_SMTP_PORT": str(smtp_port),
        "FAIRSLOT_SMTP_SECURITY": "none",
        "FAIRSLOT_SMS_API_URL": sms.url,
        "FAIRSLOT_SMS_ACCOUNT_SID": "AC1",
        "FAIRSLOT_SMS_AUTH_TOKEN": "bench",
        "FAIRSLOT_SMS_FROM": "+16175550100",
    }
    argv = [str(BIN / "flask"), "--app", "wsgi", "worker", "--burst", "--no-scheduler"]
    procs = []
    for n in range(2):
        with open(stack.workdir / f"send-worker-{n}.log", "ab") as log:
            procs.append(
                subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
    start = time.perf_counter()
    while time.perf_counter() - start < seconds and any(p.poll() is None for p in procs):
        time.sleep(0.5)
    wall = time.perf_counter() - start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
    sent_mail, sent_sms = sum(smtp.counts().values()), sum(sms.counts().values())
    states = stack.psql(
        "SELECT status || '=' || count(*) FROM outbox_message WHERE invitation_id IS NOT NULL "
        "GROUP BY status ORDER BY status"
    ).split()
    smtp.stop()
    sms.stop()
    if not sent_mail + sent_sms:
        print((stack.workdir / "send-worker-0.log").read_text()[-3000:], file=sys.stderr)
    return {
        "workers": 2,
        "seconds": round(wall, 1),
        "emails": sent_mail,
        "sms": sent_sms,
        "per_second": round((sent_mail + sent_sms) / wall, 1),
        "invitation_messages": states,
    }
