"""The Redis failover drill: the primary killed for good while a crowd waits and books.

``python -m bench.failover_redis`` starts a primary, an asynchronous replica and three sentinels
on loopback (bench/sentinel_cluster.py), a scratch database on the PostgreSQL at
``--database-url`` (created and dropped here), an SMTP sink and a real RQ worker process (restarted
when it exits, as systemd would). The app runs in this process with ``FAIRSLOT_REDIS_SENTINELS``;
browsers (the HTML waiting room) and API clients join, poll, hold and confirm on threads. A few
seconds in, the primary gets SIGKILL. It prints (and writes with ``--json``) the errors users saw
and for how long, the tickets and admissions lost and restored, and whether every acknowledged
booking is in the database once, with exactly one confirmation email delivered. About a minute.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import time
from typing import Any

from sqlalchemy import create_engine, text

from bench.failover_crowd import (
    RESTORED,
    Log,
    RestoreCounter,
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
from bench.sentinel_cluster import SERVICE, SentinelCluster, client
from bench.sinks import SmtpSink


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the drill once; return its figures."""
    from booking import create_app

    scratch = f"fairslot_drill_{secrets.token_hex(4)}"
    admin = create_engine(
        args.database_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {scratch}"))
    url = args.database_url.rsplit("/", 1)[0] + "/" + scratch
    cluster, smtp, worker, front = SentinelCluster(), SmtpSink(), None, None
    try:
        cluster.start()
        smtp.start()
        slots = seed(url, slots=20, capacity=20)
        sentinels = {
            "FAIRSLOT_REDIS_SENTINELS": cluster.sentinels_setting,
            "FAIRSLOT_REDIS_SENTINEL_SERVICE": SERVICE,
        }
        env = app_env(sentinels, url, smtp)
        worker = Worker(env, cluster.dir / "worker.log").start()
        saved_environ = dict(os.environ)
        os.environ.update(env)  # parsed and checked as in production
        restored = RestoreCounter()
        app: Any
        if args.front == "nginx":
            front = app = Front(env)
            front.start()
        else:
            app = create_app({"SESSION_COOKIE_SECURE": False})  # the test client: plain http
            quiet()
            logging.getLogger("booking.web.gate").addHandler(restored)
        log = Log()
        deadline = log.start + args.seconds
        threads = start_crowd(app, log, args, slots, deadline)
        time.sleep(max(0.0, args.kill_at - (time.monotonic() - log.start)))
        primary, replica = client(cluster.primary_port), client(cluster.replica_port)
        lag = int(primary.info("replication")["master_repl_offset"]) - int(
            replica.info("replication")["slave_repl_offset"]
        )
        killed_at = time.monotonic() - log.start
        old = cluster.kill_primary()
        cluster.wait_failover(old)
        promoted_after = time.monotonic() - log.start - killed_at
        for thread in threads:
            thread.join(timeout=max(1.0, deadline - time.monotonic() + 5))
        figures = {
            "residents": args.browsers + args.api,
            "killed_at_s": round(killed_at, 2),
            "replica_lag_bytes_at_kill": lag,
            "promoted_after_s": round(promoted_after, 2),
            "requests": len(log.rows),
            "seen_by_users": errors_after(log, killed_at),
            "errors_before_kill": errors_after(log, 0)["errors"]
            - errors_after(log, killed_at)["errors"],
            "front": args.front,
            "restored": (
                {k: front.count_logged(said) for k, said in RESTORED.items()}
                if front is not None
                else dict(restored.counts)
            ),
            "browsers_rejoined": log.rejoined,
            "api_tickets_lost": log.api_lost,
            "unfinished": args.browsers + args.api - len(log.acked),
            "worker_starts": worker.starts,
        }
        figures["bookings"] = check_bookings(url, log, smtp, timeout=60)
        return figures
    finally:
        if "saved_environ" in locals():
            os.environ.clear()
            os.environ.update(saved_environ)
        if front is not None:
            front.stop()
        if worker is not None:
            worker.stop()
        smtp.stop()
        cluster.stop()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"))
        admin.dispose()


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """The drill's options (defaults: 60 browsers, 20 API clients, the kill at 4 s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server: a scratch database is created on it and dropped",
    )
    # Through nginx the 80 residents had all booked 8 s in (2026-12-07, a busy machine): the
    # primary dies while they still join and poll.
    crowd_arguments(parser, kill_at=4.0)
    return parser.parse_args(argv)


def main() -> None:
    """Parse the options, run the drill, print its figures."""
    drill_main(run, options())


if __name__ == "__main__":
    main()
