"""An invitation round at scale: its time and peak memory, the messages sent per second after
it, and booking and waiting-room latency while it runs, side by side with none running.

``python -m bench.rounds --preregistrations 1000000 --invitations 50000`` starts the bench's own
PostgreSQL and Redis (bench.stack), adds 50 clinics around Boston with bookable slots tomorrow
and places the day after, inserts the preregistrations in one ``INSERT ... SELECT`` (three
priority groups, 5 to 30 miles of travel, spread over two degrees so many reach no clinic),
and releases ``--invitations`` places across the clinics. Then, while four threads book (hold +
confirm) and one polls a waiting-room ticket through the app in this process, a child process
runs the round as the admin's job does (``run_round_in_batches``: the draw in one transaction,
the invitations and messages in batches of their own) and reports its wall time and peak RSS
(``ru_maxrss``). The load runs ``--baseline`` seconds before the round too, so the latencies
with and without a round come from one run. Last, two RQ workers send the queued messages to
local SMTP and SMS sinks for ``--send-seconds`` and the deliveries per second are counted.
Results go to ``--out`` (report.md and summary.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data
from bench.round_load import APPS, Load, app_for, send, summarize
from bench.stack import (
    ROOT,
    Stack,
    in_process_stack,
    make_workdir,
    remove_workdir,
    start_migrated,
)

CLINICS = 50
PREREG_SQL = """
INSERT INTO preregistration (person_key, first_name, last_name, date_of_birth, service,
    product_id, zip_code, latitude, longitude, travel_miles, phone, email, callback_phone, locale,
    lives_or_works_in_state, has_condition, short_notice, priority_group, priority_rank, status,
    channel, token_nonce, created_at, updated_at)
SELECT 'bench|' || i, 'Pre', 'P' || i, date '1940-01-01' + (i % 20000), 'covid19', NULL,
    '02115', 42.3427 + (random() - 0.5) * 2.0, -71.0922 + (random() - 0.5) * 2.0, 5 + i % 26,
    CASE WHEN i % 2 = 0 THEN '+1617' || lpad((i % 10000000)::text, 7, '0') END,
    CASE WHEN i % 2 = 1 OR i % 3 <> 0 THEN 'p' || i || '@bench.example' END, NULL, 'en',
    true, false, i % 10 = 0, 'Phase ' || (1 + i % 3), i % 3, 'waiting', 'online', md5(i::text),
    now(), now()
FROM generate_series(1, {count}) AS i
"""


def setup(stack: Stack, preregistrations: int, invitations: int) -> dict[str, Any]:
    """Clinics, slots, the preregistrations and the released places; how long loading took."""
    data.add_clinics(stack, CLINICS, spread_deg=1.5, prefix="round")
    data.add_slots(stack, prefix="round", days=1, per_day=10, capacity=100_000, first_day=1)
    per_clinic = -(-invitations // CLINICS)
    per_slot = -(-per_clinic // 20)
    data.add_slots(stack, prefix="round", days=1, per_day=20, capacity=per_slot, first_day=2)
    start = time.perf_counter()
    stack.psql(PREREG_SQL.format(count=preregistrations))
    stack.psql("ANALYZE")
    loaded = time.perf_counter() - start
    # Release exactly ``invitations`` places: per_clinic at each, fewer at the last ones.
    left = invitations
    released = 0
    rows = stack.psql(
        "SELECT c.id, (min(s.starts_at) AT TIME ZONE c.timezone)::date FROM clinic c "
        "JOIN slot s ON s.clinic_id = c.id WHERE s.capacity < 100000 GROUP BY c.id ORDER BY c.id"
    ).split("\n")
    from booking.db import db
    from booking.services import invitations as service

    app = app_for(stack)
    with app.app_context():
        for row in rows:
            clinic_id, day = row.split("|")
            take = min(per_clinic, left)
            left -= take
            released += db.transaction(
                lambda s, c=int(clinic_id), d=day, n=take: service.release_places(
                    s,
                    c,
                    datetime.fromisoformat(d).date(),
                    n,
                    service="covid19",
                    now=datetime.now(UTC),
                )
            )
    return {"load_s": round(loaded, 1), "released": released}


def child_draw() -> int:
    """Only draw a round (rolled back), with nothing else running: its time and peak RSS."""
    from booking.app import create_app
    from booking.db import db
    from booking.services import invitation_draw

    app = create_app()
    with app.app_context():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        drawn = invitation_draw.draw_round(
            db.session,
            service="covid19",
            now=datetime.now(UTC),
            seed="bench",
            over_invitation=1.0,
            only=None,
            short_notice=False,
        )
        wall = time.perf_counter() - start
        db.session.rollback()
        print(
            json.dumps(
                {
                    "alone_draw_s": round(wall, 2),
                    "alone_rss_before_mb": round(before / 1024),
                    "alone_peak_rss_mb": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    ),
                    "alone_chosen": len(drawn.chosen),
                }
            )
        )
    return 0


def _run_child(stack: Stack, flag: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rounds", flag],
        cwd=ROOT,
        env={**os.environ, **stack.env()},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def child() -> int:
    """Run the round as the admin's job does and print what it cost (run in a child process)."""
    from sqlalchemy import func, select

    from booking.app import create_app
    from booking.db import db
    from booking.models import Invitation, InvitationRound, OutboxMessage
    from booking.services import invitation_rounds

    app = create_app()
    with app.app_context():
        db.session.execute(select(1))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        batches: list[float] = []
        start = time.perf_counter()
        round_id = invitation_rounds.run_round_in_batches(
            db.transaction,
            service="covid19",
            now=datetime.now(UTC),
            seed="bench",
            after_batch=lambda _n: batches.append(time.perf_counter() - start),
        )
        wall = time.perf_counter() - start
        record = db.session.get_one(InvitationRound, round_id)
        invited = db.session.scalar(
            select(func.count()).where(Invitation.round_id == round_id).select_from(Invitation)
        )
        messages = db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.invitation_id.is_not(None))
        )
        print(
            json.dumps(
                {
                    "round_s": round(wall, 2),
                    "draw_s": round(batches[0] if batches else wall, 2),
                    "batches": len(batches) - 1,
                    "rss_before_mb": round(before / 1024),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                    "eligible": record.eligible,
                    "pool_reached": len(record.pool),
                    "places": sum(record.places.values()),
                    "invitations": invited,
                    "messages_queued": messages,
                }
            )
        )
    return 0


def measure(stack: Stack, preregistrations: int, invitations: int, args: Any) -> dict[str, Any]:
    """Load, run the round under booking and polling load, then send; the figures."""
    import redis as redis_lib

    loaded = setup(stack, preregistrations, invitations)
    alone = _run_child(stack, "--child-draw")  # the draw with nothing else running
    redis = redis_lib.Redis.from_url(stack.redis_url)
    slot_ids = [int(x) for x in stack.psql("SELECT id FROM slot WHERE capacity = 100000").split()]
    load = Load(stack, redis, slot_ids)
    threads = load.start()
    time.sleep(args.baseline)
    round_start = time.perf_counter()
    try:
        result = _run_child(stack, "--child")
    finally:
        round_end = time.perf_counter()
        time.sleep(min(args.baseline, 10))  # and a little after
        load.stop.set()
        for thread in threads:
            thread.join()
    side = {}
    for kind in ("booking", "poll"):
        without = [s for k, t, s in load.samples if k == kind and not round_start <= t < round_end]
        during = [s for k, t, s in load.samples if k == kind and round_start <= t < round_end]
        side[kind] = {"without_round": summarize(without), "during_round": summarize(during)}
    return {
        "preregistrations": preregistrations,
        **loaded,
        **alone,
        **result,
        "latency": side,
        "send": send(stack, args.send_seconds),
    }


def report(rows: list[dict[str, Any]]) -> str:
    """The results as markdown."""
    lines = [
        "# Invitation rounds at scale",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on this machine (2 shared cores), "
        "`python -m bench.rounds`.",
        "",
        "| preregistrations | eligible | pool reached | invitations | messages queued "
        "| draw alone s (peak RSS MB) | round under load s (draw s) | round peak RSS MB (before) "
        "| sent per s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['preregistrations']:,} | {r['eligible']:,} | {r['pool_reached']:,} "
            f"| {r['invitations']:,} | {r['messages_queued']:,} "
            f"| {r['alone_draw_s']} ({r['alone_peak_rss_mb']}) | {r['round_s']} ({r['draw_s']}) "
            f"| {r['peak_rss_mb']} ({r['rss_before_mb']}) | {r['send']['per_second']} |"
        )
    lines += ["", "Latency while the round runs, side by side with the same load without it:", ""]
    lines += ["| preregistrations | call | when | n | p50 ms | p95 ms | max ms |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for r in rows:
        for kind, sides in r["latency"].items():
            for when, s in sides.items():
                lines.append(
                    f"| {r['preregistrations']:,} | {kind} | {when.replace('_', ' ')} "
                    f"| {s['n']} | {s.get('p50_ms')} | {s.get('p95_ms')} | {s.get('max_ms')} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure each size and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preregistrations", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--invitations", type=int, default=50_000)
    parser.add_argument("--baseline", type=float, default=20.0, help="seconds of load before")
    parser.add_argument("--send-seconds", type=float, default=60.0)
    parser.add_argument("--port-offset", type=int, default=0)
    parser.add_argument("--out", type=Path, help="where report.md and summary.json go")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-draw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child()
    if args.child_draw:
        return child_draw()
    rows = []
    for size in args.preregistrations:
        workdir = make_workdir()
        stack = in_process_stack(
            workdir,
            args.port_offset,
            FAIRSLOT_SESSION_COOKIE_SECURE="false",
            FAIRSLOT_PROXY_COUNT="1",
        )
        try:
            start_migrated(stack)
            rows.append(measure(stack, size, args.invitations, args))
            APPS.clear()
        finally:
            stack.stop()
            remove_workdir(workdir)
        print(json.dumps(rows[-1]), flush=True)
    text = report(rows)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.md").write_text(text)
        (args.out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
