"""Per-request cost in one process: SQL statements, Redis round trips and CPU per request.

``python -m bench.micro [--n 400] [--profile poll|booking]`` starts the bench's own PostgreSQL
and Redis (bench.stack), migrates, adds roomy slots, builds the app in this process and drives
it with Flask's test client: no HTTP and no gunicorn, so the figures are the app's own work per
request. Statements and round trips are counted exactly (the same every run); CPU time is this
process's alone (PostgreSQL and Redis run in their own processes), so it is far steadier than
throughput on a shared machine. The bare endpoints of ``bench.bare_app`` are measured the same
way, side by side, as the reference. ``--profile`` prints the hottest functions of one step.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench import data, scenario
from bench.bare_app import SCHEMA_SQL
from bench.stack import Stack, in_process_stack, make_workdir, remove_workdir, start_migrated

# The course step books dose 1 of this two-dose product (dose 2 at the default time).
COURSE_PRODUCT = "moderna-covid19"
COURSE_CLIENTS = 1 << 20  # the course step's client numbers start here
# Measured side by side, in interleaved rounds: the course against the single-dose booking,
# and the status poll (fast layer on, and off) against a bare Flask hello.
PAIRED = ("booking", "course")
POLLS = ("hello", "poll", "poll_flask")


class Counters:
    """SQL statements (SQLAlchemy cursor executions) and Redis round trips, process-wide."""

    def __init__(self) -> None:
        self.sql = 0
        self.redis = 0
        self.trace: list[str] | None = None  # set to a list to record what each send was

    def install(self, engine: Any) -> None:
        """Count the app engine's statements and every Redis connection's sends."""
        from redis.connection import Connection
        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.sql += 1
            if self.trace is not None:
                self.trace.append("SQL " + " ".join(statement.split())[:90])

        original = Connection.send_packed_command

        def send(conn: Any, command: Any, check_health: bool = True) -> None:
            self.redis += 1  # a pipeline or a script call is one round trip, as on the wire
            if self.trace is not None:
                first = command[0] if isinstance(command, list) else command
                self.trace.append("Redis " + bytes(first)[:90].decode(errors="replace"))
            original(conn, command, check_health)

        Connection.send_packed_command = send  # type: ignore[method-assign]


def measure(
    step: Callable[[int], None], n: int, counters: Counters, warm: int = 20, first: int = 0
) -> dict[str, float]:
    """Run ``step`` n times (after ``warm`` calls) and return per-call CPU, wall, SQL, Redis.

    Calls are numbered from ``first`` (each number is its own client address).
    """
    for i in range(warm):
        step(-1 - i)
    sql0, redis0 = counters.sql, counters.redis
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(first, first + n):
        step(i)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {
        "cpu_us": round(cpu / n * 1e6),
        "wall_us": round(wall / n * 1e6),
        "sql": round((counters.sql - sql0) / n, 2),
        "redis": round((counters.redis - redis0) / n, 2),
    }


def _xff(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"}


def steps(stack: Stack, redis: Any) -> tuple[dict[str, Callable[[int], None]], Counters]:
    """The measured steps: FairSlot's poll and hold + confirm, the bare hello and booking."""
    os.environ.update(stack.env())
    from bench.bare_app import create_app as bare_app
    from booking.app import create_app
    from booking.db import db

    app = create_app()
    counters = Counters()
    with app.app_context():
        counters.install(db.engine)
    client = app.test_client()
    stack.psql(SCHEMA_SQL)
    stack.psql("INSERT INTO bare_slot (capacity) SELECT 1000000 FROM generate_series(1, 100)")
    os.environ["BARE_DSN"] = stack.dsn
    bare = bare_app().test_client()

    scenario.reset_queue(redis)
    scenario.set_queue_mode(redis, "always", admit_per_minute=1, max_active=1)
    tickets = [
        client.post("/api/v1/queue/tickets", json={}, headers=_xff(i)).get_json()["ticket"]
        for i in range(200)
    ]
    data.add_clinics(stack, 4, spread_deg=0.2, prefix="micro")
    data.add_slots(stack, prefix="micro", days=1, per_day=40, capacity=100_000)
    data.add_course_slots(
        stack, prefix="micro", days=1, per_day=40, capacity=100_000, product=COURSE_PRODUCT
    )
    slot_ids = _bookable(stack, data.PRODUCT)
    course_ids = _bookable(stack, COURSE_PRODUCT)

    def poll(i: int) -> None:
        r = client.get(f"/api/v1/queue/tickets/{tickets[i % len(tickets)]}", headers=_xff(i))
        assert r.status_code == 200, r.get_data(as_text=True)

    def poll_flask(i: int) -> None:
        app.config["FAST_POLLS"] = False  # Flask's own view, as before the fast layer
        try:
            poll(i)
        finally:
            app.config["FAST_POLLS"] = True

    def book(i: int, slot_id: int) -> dict[str, Any]:
        who = uuid.uuid4().hex[:12]
        headers = {**_xff(i), "Idempotency-Key": uuid.uuid4().hex}
        held = client.post("/api/v1/holds", json={"slot_id": slot_id}, headers=headers)
        assert held.status_code == 201, held.get_data(as_text=True)
        person = {
            "first_name": "Micro",
            "last_name": f"P{who}",
            "date_of_birth": "1970-01-01",
            "resident": True,
            "email": f"m{who}@bench.example",
        }
        done = client.post(
            f"/api/v1/holds/{held.get_json()['hold_id']}/confirm", json=person, headers=_xff(i)
        )
        assert done.status_code == 201, done.get_data(as_text=True)
        answer: dict[str, Any] = done.get_json()
        return answer

    def booking(i: int) -> None:
        book(i, slot_ids[i % len(slot_ids)])

    def course(i: int) -> None:
        # Dose 1 of a two-dose product: dose 2 is booked at its default time, in the same call.
        # Its own client addresses: the per-client hold limit counts each step's calls apart.
        assert "second_dose" in book(i + COURSE_CLIENTS, course_ids[i % len(course_ids)])

    def hello(_i: int) -> None:
        assert bare.get("/hello").status_code == 200

    def bare_booking(i: int) -> None:
        r = bare.post("/book", json={"slot_id": 1 + i % 100, "name": f"n{i}"})
        assert r.status_code == 201

    def queue_mode(mode: str, step: Callable[[int], None]) -> Callable[[int], None]:
        def run(i: int) -> None:
            if i == -1:  # the first warm-up call: switch the queue for this step
                scenario.set_queue_mode(redis, mode, admit_per_minute=1, max_active=1)
                time.sleep(2.1)  # the app caches live settings for 2 s
            step(i)

        return run

    return {
        "hello": hello,
        "poll": queue_mode("always", poll),
        "poll_flask": queue_mode("always", poll_flask),
        "bare_booking": bare_booking,
        "booking": queue_mode("off", booking),
        "course": queue_mode("off", course),
    }, counters


def _bookable(stack: Stack, product: str) -> list[int]:
    """The ids of ``product``'s slots inside the booking horizon (dose 1's, not dose 2's)."""
    rows = stack.psql(
        "SELECT s.id FROM slot s JOIN vaccine_product p ON p.id = s.product_id "
        f"WHERE p.key = '{product}' AND s.{data.BOOKABLE} ORDER BY s.id"
    )
    return [int(x) for x in rows.split()]


def side_by_side(
    measured: dict[str, Callable[[int], None]],
    names: tuple[str, ...],
    n: int,
    rounds: int,
    counters: Counters,
) -> dict[str, dict[str, float]]:
    """Measure ``names`` in interleaved rounds (order alternating), n calls each in all.

    The machine's noise then falls on every step alike, so their ratio is steadier than
    either figure. Returns the per-call figures of each step over all its rounds.
    """
    totals = {name: dict.fromkeys(("cpu_us", "wall_us", "sql", "redis"), 0.0) for name in names}
    per_round = max(1, n // rounds)
    for r in range(rounds):
        order = names if r % 2 == 0 else tuple(reversed(names))
        for name in order:
            warm = 20 if r == 0 else 0
            row = measure(measured[name], per_round, counters, warm=warm, first=r * per_round)
            for key, value in row.items():
                totals[name][key] += value / rounds
    return {
        name: {k: round(v, 2 if k in ("sql", "redis") else None) for k, v in row.items()}
        for name, row in totals.items()
    }


def ratio_row(rows: dict[str, dict[str, float]], top: str, bottom: str) -> dict[str, float]:
    """Each figure of ``top`` over the same figure of ``bottom`` (same run)."""
    return {
        k: round(rows[top][k] / rows[bottom][k], 2) if rows[bottom][k] else 0.0 for k in rows[top]
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each step and print a table (and a profile of one step if asked)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument(
        "--profile", choices=["poll", "poll_flask", "booking", "course", "hello", "bare_booking"]
    )
    parser.add_argument(
        "--rounds", type=int, default=6, help="interleaved rounds of the side-by-side steps"
    )
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument(
        "--port-offset", type=int, default=0, help="move PostgreSQL and Redis off 25432/26379"
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="then time `flask worker --burst`, forking and not, sending n bookings' emails",
    )
    parser.add_argument("--trace", help="print the statements and Redis sends of one call")
    parser.add_argument("--match", nargs="*", help="pstats restrictions, e.g. a path regex")
    args = parser.parse_args(argv)
    import redis as redis_lib

    workdir = make_workdir()
    stack = in_process_stack(
        workdir, args.port_offset, FAIRSLOT_SESSION_COOKIE_SECURE="false", FAIRSLOT_PROXY_COUNT="1"
    )
    try:
        start_migrated(stack)
        redis = redis_lib.Redis.from_url(stack.redis_url)
        measured, counters = steps(stack, redis)
        print(f"{'step':<14}{'CPU µs':>9}{'wall µs':>9}{'SQL':>7}{'Redis':>7}")
        rows = {
            name: measure(step, args.n, counters)
            for name, step in measured.items()
            if name not in PAIRED + POLLS
        }
        rows.update(side_by_side(measured, PAIRED, args.n, args.rounds, counters))
        rows["course/booking"] = ratio_row(rows, "course", "booking")
        rows.update(side_by_side(measured, POLLS, args.n, args.rounds, counters))
        rows["poll/hello"] = ratio_row(rows, "poll", "hello")
        rows["poll_flask/hello"] = ratio_row(rows, "poll_flask", "hello")
        for name, row in rows.items():
            print(
                f"{name:<14}{row['cpu_us']:>9}{row['wall_us']:>9}{row['sql']:>7}{row['redis']:>7}"
            )
        for name, step in measured.items():
            if name in (args.trace, args.profile):
                step(-1)  # a warm-up call: it sets this step's queue mode (the polls left theirs)
            if args.trace == name:
                counters.trace = []
                step(20_000)
                print(f"\n{name}:\n" + "\n".join(counters.trace))
                counters.trace = None
            if args.profile == name:
                profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
                profiler.runcall(lambda step=step: [step(10_000 + i) for i in range(args.n)])
                limits = [int(m) if m.isdigit() else m for m in args.match or ["45"]]
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(*limits)
        if args.worker:
            # Forking and in-process workers, each sending what n more bookings queued.
            measured["booking"](-1)  # the polls left the waiting room on: switch it off
            for fork in ("--fork", "--no-fork"):
                for i in range(args.n):
                    measured["booking"](30_000 + i)
                print(deliveries(stack, fork))
    finally:
        stack.stop()
        remove_workdir(workdir)
    return 0


def deliveries(stack: Stack, fork: str, smtp_port: int = 28125) -> str:
    """Time one RQ worker (``--burst``) sending the confirmations the booking step queued."""
    import logging
    import subprocess

    from bench.sinks import SmtpSink
    from bench.stack import BIN, ROOT

    due = "SELECT count(*) FROM outbox_message WHERE status = 'queued' AND send_after <= now()"
    queued = int(stack.psql(due))

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = SmtpSink(smtp_port).start()
    env = {
        **stack.env(),
        "FAIRSLOT_SMTP_HOST": "127.0.0.1",
        "FAIRSLOT_SMTP_PORT": str(smtp_port),
        "FAIRSLOT_SMTP_SECURITY": "none",
    }
    try:
        cpu0, wall0 = os.times(), time.perf_counter()
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "worker", "--burst", "--no-scheduler", fork],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        wall, cpu1 = time.perf_counter() - wall0, os.times()
    finally:
        sink.stop()
    sent = sum(sink.counts().values())
    cpu = (cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)
    return (
        f"worker --burst {fork}: {sent} of {queued} queued emails sent in {wall:.1f} s "
        f"({sent / wall:.1f} per s), worker CPU {cpu / max(sent, 1) * 1e3:.1f} ms per message"
    )


if __name__ == "__main__":
    sys.exit(main())
