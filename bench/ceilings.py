"""The machine's ceilings, measured in the same run: bare hello, bare booking, pgbench, and
FairSlot's queue-status polls and confirmed bookings per second (closed loops)."""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import subprocess
import time
import uuid
from typing import Any

from bench import data, loadgen, scenario
from bench.bare_app import BOOK_SQL, SCHEMA_SQL
from bench.profiles import Profile
from bench.stack import Stack

BARE_SLOTS = 10_000


def _address(i: int) -> str:
    return f"10.{200 + (i >> 16) % 50}.{(i >> 8) & 255}.{i & 255}"


def _xff(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": _address(i)}


def _loop(make: Any, profile: Profile) -> dict[str, float]:
    return asyncio.run(
        loadgen.closed_loop(
            make, concurrency=profile.ceiling_concurrency, duration_s=profile.ceiling_s
        )
    )


def _prepare_bare(stack: Stack) -> None:
    stack.psql(SCHEMA_SQL)
    stack.psql(
        f"INSERT INTO bare_slot (capacity) SELECT 1000000 FROM generate_series(1, {BARE_SLOTS})"
    )


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


def _fairslot_setup(stack: Stack, redis: Any) -> tuple[list[str], list[int]]:
    """Tickets waiting in line (nobody admitted) and roomy slots far from the crowd's."""
    ports = stack.front_ports  # nginx, or the app servers themselves
    scenario.reset_queue(redis)
    scenario.set_queue_mode(redis, "always", admit_per_minute=1, max_active=1)
    time.sleep(3)
    tickets: list[str] = []

    async def join(session: Any, i: int) -> bool:
        async with session.post(
            f"http://127.0.0.1:{ports[i % len(ports)]}/api/v1/queue/tickets",
            json={},
            headers=_xff(i),
        ) as r:
            body = await r.json(content_type=None)
            if r.status == 201:
                tickets.append(body["ticket"])
            return bool(r.status == 201)

    asyncio.run(loadgen.closed_loop(join, concurrency=8, duration_s=3))
    data.add_clinics(stack, 10, spread_deg=0.2, prefix="ceil")
    data.add_slots(stack, prefix="ceil", days=1, per_day=48, capacity=1000)
    slot_ids = [
        int(x)
        for x in stack.psql(
            "SELECT s.id FROM slot s JOIN clinic c ON c.id = s.clinic_id WHERE c.key LIKE 'ceil-%'"
        ).split()
    ]
    return tickets, slot_ids


def _makers(
    stack: Stack,
    bare_ports: tuple[int, ...],
    tickets: list[str],
    slot_ids: list[int],
    ports: list[int] | None = None,
) -> dict[str, Any]:
    """The loops' request makers; FairSlot's through ``ports`` (default: where clients go)."""
    ports = ports or stack.front_ports  # nginx, or the app servers themselves
    direct = ports != stack.front_ports  # straight to the pools: add nginx's XFF entry

    def _xff(i: int) -> dict[str, str]:
        address = _address(i)
        return {"X-Forwarded-For": f"{address}, 127.0.0.1" if direct else address}

    async def hello(session: Any, i: int) -> bool:
        async with session.get(f"http://127.0.0.1:{bare_ports[i % 2]}/hello") as r:
            await r.read()
            return bool(r.status == 200)

    async def bare_booking(session: Any, i: int) -> bool:
        body = {"slot_id": random.randint(1, BARE_SLOTS), "name": f"n{i}"}
        async with session.post(f"http://127.0.0.1:{bare_ports[i % 2]}/book", json=body) as r:
            await r.read()
            return bool(r.status == 201)

    async def fairslot_polls(session: Any, i: int) -> bool:
        ticket = tickets[i % len(tickets)]
        async with session.get(
            f"http://127.0.0.1:{ports[i % len(ports)]}/api/v1/queue/tickets/{ticket}",
            headers=_xff(i),
        ) as r:
            await r.read()
            return bool(r.status == 200)

    async def fairslot_bookings(session: Any, i: int) -> bool:
        base = f"http://127.0.0.1:{ports[i % len(ports)]}/api/v1/holds"
        headers = {**_xff(i), "Idempotency-Key": uuid.uuid4().hex}
        async with session.post(
            base, json={"slot_id": random.choice(slot_ids)}, headers=headers
        ) as r:
            body = await r.json(content_type=None)
            if r.status != 201:
                return False
        who = uuid.uuid4().hex[:12]  # a new person every time: rounds restart i
        person = {
            "first_name": "Ceil",
            "last_name": f"P{who}",
            "date_of_birth": "1970-01-01",
            "resident": True,
            "email": f"ceil{who}@bench.example",
        }
        async with session.post(
            f"{base}/{body['hold_id']}/confirm", json=person, headers=_xff(i)
        ) as r:
            await r.read()
            return bool(r.status == 201)

    return {
        "hello": hello,
        "fairslot_polls": fairslot_polls,
        "bare_booking": bare_booking,
        "fairslot_bookings": fairslot_bookings,
    }


def run(stack: Stack, redis: Any, profile: Profile, rounds: int = 2) -> dict[str, Any]:
    """All ceilings, interleaved in rounds (the machine is noisy); medians are reported."""
    print("ceilings", flush=True)
    _prepare_bare(stack)
    tickets, slot_ids = _fairslot_setup(stack, redis)
    saved_ports, saved_env = stack.app_ports, dict(stack.app_env)
    bare_ports = (28011, 28012)
    measured: dict[str, list[dict[str, float]]] = {}
    try:
        stack.app_ports = bare_ports
        stack.app_env["BARE_DSN"] = stack.dsn
        for i in range(2):
            stack.start_app(i, app="bench.bare_app:create_app()", name="bare")
        stack.app_ports, stack.app_env = saved_ports, saved_env
        makers = _makers(stack, bare_ports, tickets, slot_ids)
        if stack.proxy == "nginx":
            # The bare app runs on two servers of two workers, reached directly; FairSlot's
            # two pools together have as many workers. Straight to them (no nginx hop, no
            # split) tells whether the layout is what keeps FairSlot under the bare app.
            same = _makers(stack, bare_ports, tickets, slot_ids, ports=list(stack.app_ports))
            makers["fairslot_polls_direct"] = same["fairslot_polls"]
            makers["fairslot_bookings_direct"] = same["fairslot_bookings"]
        for _round in range(rounds):
            for key, make in makers.items():
                if key.startswith("fairslot_polls"):
                    scenario.set_queue_mode(redis, "always", admit_per_minute=1, max_active=1)
                    time.sleep(3)
                elif key.startswith("fairslot_bookings"):
                    scenario.set_queue_mode(redis, "off")
                    time.sleep(3)
                measured.setdefault(key, []).append(_loop(make, profile))
    finally:
        stack.app_ports = bare_ports
        for i in range(2):
            stack.stop_app(i, name="bare")
        stack.app_ports, stack.app_env = saved_ports, saved_env
    out: dict[str, Any] = {
        "rounds": {k: [round(m["per_s"], 1) for m in v] for k, v in measured.items()}
    }
    for key, runs in measured.items():
        out[f"{key}_per_s"] = statistics.median(m["per_s"] for m in runs)
        out[f"{key}_cpu"] = statistics.median(m["cpu_share_of_one_core"] for m in runs)
        out[f"{key}_errors"] = sum(m["errors"] for m in runs)
    out.update(pgbench(stack, profile))
    # Leave no trace for the scenarios that follow.
    data.reset_bookings(stack)
    stack.psql(
        "DELETE FROM slot WHERE clinic_id IN (SELECT id FROM clinic WHERE key LIKE 'ceil-%'); "
        "DELETE FROM clinic WHERE key LIKE 'ceil-%'"
    )
    scenario.reset_queue(redis)
    out["note"] = (
        f"Closed loops of {profile.ceiling_concurrency} connections, {profile.ceiling_s:.0f} s "
        f"each, interleaved over {rounds} rounds (medians shown; every round in summary.json), "
        "from the same asyncio generator. FairSlot polls are `GET /api/v1/queue/tickets/<id>` "
        "of tickets waiting in line; FairSlot bookings are hold + confirm with all validation, "
        "queue off (no admission gate), each with its own client address. pgbench: 8 clients, "
        "2 threads. When the generator's CPU share nears 100% the figure is the generator's "
        "ceiling, not the server's. " + _where(stack)
    )
    return out


def _where(stack: Stack) -> str:
    """Which servers answered: the bare app is always two servers, reached directly."""
    bare = f"The bare endpoints: two gunicorn servers of {stack.workers} workers each, direct. "
    if stack.proxy == "nginx" and stack.pool_workers:
        waiting, booking = stack.pool_workers
        return bare + (
            "FairSlot: through nginx (the shipped site), polls to the waiting-room pool "
            f'({waiting} workers), bookings to the booking pool ({booking}); "direct": '
            f"straight to both pools ({waiting} + {booking} workers, as many as the bare app's), "
            "connections spread evenly over the two."
        )
    return bare + "FairSlot: the same two servers' layout, direct (no proxy)."
