"""The PostgreSQL failover drill: the primary killed for good, its streaming replica promoted.

``python -m bench.failover_postgres`` starts a primary and a streaming replica on loopback
(bench/pg_pair.py), a private Redis, an SMTP sink and a real RQ worker; the app (in this
process, like bench/failover_redis.py's) connects with libpq's multi-host URL and
``target_session_attrs=read-write``, so it follows whichever server takes writes. First it
measures what synchronous commit to the replica costs a booking (rounds interleaved, on and
off); then a crowd joins and books, the primary gets SIGKILL, and the replica is promoted
``--promote-after`` seconds later (what an operator or Patroni does). It reports the errors users
saw and for how long, and whether every acknowledged booking is on the new primary, once, with
one confirmation email each. About two minutes (initdb is most of it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from bench.failover_crowd import (
    Log,
    Worker,
    app_env,
    check_bookings,
    crowd_arguments,
    drill_main,
    errors_after,
    quiet,
    seed,
    start_crowd,
)
from bench.failover_front import Front
from bench.pg_pair import PgPair
from bench.sinks import SmtpSink


def commit_cost(app: Any, pair: PgPair, slots: list[int], log: Log, rounds: int) -> dict[str, Any]:
    """Milliseconds per booking (hold + confirm) with synchronous commit on and off, interleaved."""
    from tests.support import person_json

    client = app.test_client()
    times: dict[bool, list[float]] = {True: [], False: []}
    n = 0
    for _ in range(rounds):
        for synchronous in (True, False):
            pair.set_synchronous(synchronous)
            for _ in range(20):
                n += 1
                email = f"cost{n}@drill.example"
                body = person_json(9000 + n, email=email)  # adults: born 1984 on
                del body["phone"]
                started = time.perf_counter()
                held = client.post("/api/v1/holds", json={"slot_id": slots[n % len(slots)]})
                hold_id = held.get_json()["hold_id"]
                done = client.post(f"/api/v1/holds/{hold_id}/confirm", json=body)
                times[synchronous].append(time.perf_counter() - started)
                if done.status_code == 201:
                    log.acked.append(email)
    on, off = (statistics.median(times[k]) * 1000 for k in (True, False))
    return {"bookings_each": len(times[True]), "sync_ms": round(on, 2), "async_ms": round(off, 2),
            "ratio": round(on / off, 2)}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the drill once; return its figures."""
    from booking import create_app
    from tests.support import RedisServer

    pair, redis, smtp, worker = (
        PgPair(synchronous=not args.asynchronous),
        RedisServer(),
        SmtpSink(),
        None,
    )
    front: Front | None = None
    saved_environ = dict(os.environ)
    try:
        pair.start()
        redis.start()
        smtp.start()
        url = pair.url()
        slots = seed(url, slots=20, capacity=30)
        env = app_env({"FAIRSLOT_REDIS_URL": redis.url}, url, smtp)
        worker = Worker(env, pair.dir / "worker.log").start()
        os.environ.update(env)
        app: Any
        if args.front == "nginx":
            front = app = Front(env)
            front.start()
        else:
            app = create_app({"SESSION_COOKIE_SECURE": False})
        quiet()
        log = Log()
        plain = create_app({"SESSION_COOKIE_SECURE": False, "QUEUE_MODE": "off"})
        cost = commit_cost(plain, pair, slots, log, rounds=args.cost_rounds)
        pair.set_synchronous(not args.asynchronous)
        log.start = time.monotonic()
        deadline = log.start + args.seconds
        threads = start_crowd(app, log, args, slots, deadline)
        time.sleep(max(0.0, args.kill_at - (time.monotonic() - log.start)))
        killed_at = time.monotonic() - log.start
        pair.kill_primary()
        time.sleep(args.promote_after)
        pair.promote()
        promoted_at = time.monotonic() - log.start
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 5))
        return {
            "synchronous_commit": not args.asynchronous,
            "front": args.front,
            "commit_cost": cost,
            "residents": args.browsers + args.api,
            "killed_at_s": round(killed_at, 2),
            "promoted_after_s": round(promoted_at - killed_at, 2),
            "requests": len(log.rows),
            "seen_by_users": errors_after(log, killed_at),
            "unfinished": args.browsers + args.api - sum(1 for e in log.acked if "cost" not in e),
            "worker_starts": worker.starts,
            "bookings": check_bookings(url, log, smtp, timeout=90),
        }
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        if front is not None:
            front.stop()
        if worker is not None:
            worker.stop()
        smtp.stop()
        redis.stop()
        pair.stop()


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """The drill's options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asynchronous", action="store_true", help="no synchronous commit")
    parser.add_argument("--promote-after", type=float, default=1.0,
                        help="seconds between the kill and the promotion")  # fmt: skip
    parser.add_argument("--cost-rounds", type=int, default=3)
    crowd_arguments(parser, kill_at=6.0)
    return parser.parse_args(argv)


def main() -> None:
    """Parse the options, run the drill, print its figures."""
    drill_main(run, options())


if __name__ == "__main__":
    main()
