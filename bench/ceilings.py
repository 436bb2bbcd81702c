"""The machine's ceilings, measured in the same run: bare hello, bare booking, pgbench, and
FairSlot's queue-status polls and confirmed bookings per second (closed loops)."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import uuid
from typing import Any

from bench import data, loadgen, scenario
from bench.bare_app import BOOK_SQL, SCHEMA_SQL
from bench.profiles import Profile
from bench.stack import Stack

BARE_SLOTS = 10_000


def _xff(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"10.{200 + (i >> 16) % 50}.{(i >> 8) & 255}.{i & 255}"}


def _loop(make: Any, profile: Profile) -> dict[str, float]:
    return asyncio.run(
        loadgen.closed_loop(
            make, concurrency=profile.ceiling_concurrency, duration_s=profile.ceiling_s
        )
    )


def bare(stack: Stack, profile: Profile) -> dict[str, Any]:
    """Bare hello and bare booking on the same gunicorn settings, on two servers."""
    stack.psql(SCHEMA_SQL)
    stack.psql(
        f"INSERT INTO bare_slot (capacity) SELECT 1000000 FROM generate_series(1, {BARE_SLOTS})"
    )
    saved_ports, saved_env = stack.app_ports, dict(stack.app_env)
    stack.app_ports = (58011, 58012)
    stack.app_env["BARE_DSN"] = stack.dsn
    out: dict[str, Any] = {}
    try:
        for i in range(2):
            stack.start_app(i, app="bench.bare_app:create_app()", name="bare")
        ports = stack.app_ports

        async def hello(session: Any, i: int) -> bool:
            async with session.get(f"http://127.0.0.1:{ports[i % 2]}/hello") as r:
                await r.read()
                return bool(r.status == 200)

        async def book(session: Any, i: int) -> bool:
            body = {"slot_id": random.randint(1, BARE_SLOTS), "name": f"n{i}"}
            async with session.post(f"http://127.0.0.1:{ports[i % 2]}/book", json=body) as r:
                await r.read()
                return bool(r.status == 201)

        h = _loop(hello, profile)
        b = _loop(book, profile)
        out.update(
            hello_per_s=h["per_s"],
            hello_cpu=h["cpu_share_of_one_core"],
            hello_errors=h["errors"],
            bare_booking_per_s=b["per_s"],
            bare_booking_cpu=b["cpu_share_of_one_core"],
            bare_booking_errors=b["errors"],
        )
    finally:
        for i in range(2):
            stack.stop_app(i, name="bare")
        stack.app_ports, stack.app_env = saved_ports, saved_env
    return out


def pgbench(stack: Stack, profile: Profile) -> dict[str, Any]:
    """pgbench running the bare booking statement, spread over slots and on one hot slot."""
    out: dict[str, Any] = {}
    statement = " ".join(
        BOOK_SQL.replace("%(slot)s", ":slot").replace("%(name)s", "'pgbench'").split()
    )
    for key, choose in (
        ("pgbench_spread_tps", f"random(1, {BARE_SLOTS})"),
        ("pgbench_hot_tps", "1"),
    ):
        script = stack.workdir / f"{key}.sql"
        script.write_text(f"\\set slot {choose}\n{statement};\n")
        run = subprocess.run(
            [
                "pgbench",
                "-n",
                "-h",
                "127.0.0.1",
                "-p",
                str(stack.pg_port),
                "-U",
                "postgres",
                "-c",
                "8",
                "-j",
                "2",
                "-T",
                str(int(profile.ceiling_s)),
                "-f",
                str(script),
                "fairslot",
            ],
            capture_output=True,
            text=True,
        )
        match = re.search(r"tps = ([\d.]+)", run.stdout)
        out[key] = float(match.group(1)) if match else None
    return out


def fairslot(stack: Stack, redis: Any, profile: Profile) -> dict[str, Any]:
    """FairSlot: queue-status polls per second, then hold + confirm per second (queue off)."""
    ports = stack.app_ports
    scenario.reset_queue(redis)
    scenario.set_queue_mode(redis, "always", admit_per_minute=1, max_active=1)
    tickets: list[str] = []

    async def join(session: Any, i: int) -> bool:
        async with session.post(
            f"http://127.0.0.1:{ports[i % 2]}/api/v1/queue/tickets", json={}, headers=_xff(i)
        ) as r:
            body = await r.json(content_type=None)
            if r.status == 201:
                tickets.append(body["ticket"])
            return bool(r.status == 201)

    import time

    time.sleep(3)
    asyncio.run(loadgen.closed_loop(join, concurrency=8, duration_s=3))

    async def poll(session: Any, i: int) -> bool:
        ticket = tickets[i % len(tickets)]
        async with session.get(
            f"http://127.0.0.1:{ports[i % 2]}/api/v1/queue/tickets/{ticket}", headers=_xff(i)
        ) as r:
            await r.read()
            return bool(r.status == 200)

    p = _loop(poll, profile)
    data.add_clinics(stack, 10, spread_deg=0.2, prefix="ceil")
    data.add_slots(stack, prefix="ceil", days=1, per_day=48, capacity=1000)
    slot_ids = [
        int(x)
        for x in stack.psql(
            "SELECT s.id FROM slot s JOIN clinic c ON c.id = s.clinic_id WHERE c.key LIKE 'ceil-%'"
        ).split()
    ]
    scenario.set_queue_mode(redis, "off")
    time.sleep(3)

    async def book(session: Any, i: int) -> bool:
        base = f"http://127.0.0.1:{ports[i % 2]}/api/v1/holds"
        headers = {**_xff(i), "Idempotency-Key": uuid.uuid4().hex}
        async with session.post(
            base, json={"slot_id": random.choice(slot_ids)}, headers=headers
        ) as r:
            body = await r.json(content_type=None)
            if r.status != 201:
                return False
        person = {
            "first_name": "Ceil",
            "last_name": f"P{i}",
            "date_of_birth": "1970-01-01",
            "email": f"ceil{i}@bench.example",
        }
        async with session.post(
            f"{base}/{body['hold_id']}/confirm", json=person, headers=_xff(i)
        ) as r:
            await r.read()
            return bool(r.status == 201)

    b = _loop(book, profile)
    # Leave no trace for the scenarios that follow.
    data.reset_bookings(stack)
    stack.psql(
        "DELETE FROM slot WHERE clinic_id IN (SELECT id FROM clinic WHERE key LIKE 'ceil-%'); "
        "DELETE FROM clinic WHERE key LIKE 'ceil-%'"
    )
    scenario.reset_queue(redis)
    return {
        "fairslot_polls_per_s": p["per_s"],
        "fairslot_polls_cpu": p["cpu_share_of_one_core"],
        "fairslot_polls_errors": p["errors"],
        "poll_tickets": len(tickets),
        "fairslot_bookings_per_s": b["per_s"],
        "fairslot_bookings_cpu": b["cpu_share_of_one_core"],
        "fairslot_bookings_errors": b["errors"],
    }


def run(stack: Stack, redis: Any, profile: Profile) -> dict[str, Any]:
    """All ceilings; FairSlot's fractions of them are computed by the report."""
    print("ceilings", flush=True)
    out = fairslot(stack, redis, profile)
    out.update(bare(stack, profile))
    out.update(pgbench(stack, profile))
    out["note"] = (
        f"Closed loops of {profile.ceiling_concurrency} connections for {profile.ceiling_s:.0f} s "
        "each from the same asyncio generator; FairSlot bookings are hold + confirm with all "
        "validation, queue off (no admission gate), each with its own client address. pgbench: "
        "8 clients, 2 threads. When the generator's CPU share nears 100% the figure is the "
        "generator's ceiling, not the server's."
    )
    return out
