"""The report's sections for the two failover drills (bench/failover_*.py)."""

from __future__ import annotations

from typing import Any

from bench.report_format import fmt


def failover_redis_section(results: dict[str, Any]) -> list[str]:
    """The Redis failover drill's section (bench/failover_redis.py), if it ran."""
    f = results.get("failover_redis")
    if not f:
        return []
    seen, b = f.get("seen_by_users") or {}, f.get("bookings") or {}
    restored = f.get("restored") or {}
    return [
        "## Redis failover (Sentinel: the primary killed for good)",
        "",
        "| Promoted after (s) | Errors users saw (users) | Error window (s) | Replica behind "
        "(bytes) | Restored: waiting / admitted | Lost: browsers rejoined / API tickets | "
        "Acknowledged missing / booked twice | Emails missing / twice |",
        "|---|---|---|---|---|---|---|---|",
        f"| {fmt(f.get('promoted_after_s'))} | {seen.get('errors', 'n/a')} "
        f"({seen.get('users', 'n/a')}) | {fmt(seen.get('first_s'))}-{fmt(seen.get('last_s'))} | "
        f"{f.get('replica_lag_bytes_at_kill', 'n/a')} | {restored.get('waiting', 0)} / "
        f"{restored.get('admission', 0)} | {f.get('browsers_rejoined', 'n/a')} / "
        f"{f.get('api_tickets_lost', 'n/a')} | {b.get('acknowledged_missing', 'n/a')} / "
        f"{b.get('booked_twice', 'n/a')} | {b.get('emails_missing', 'n/a')} / "
        f"{b.get('emails_doubled', 'n/a')} |",
        "",
        f"{f.get('residents', 'n/a')} residents (browsers and API clients, {_front(f)}) "
        f"against a primary, a replica and three sentinels; the primary got SIGKILL at "
        f"{fmt(f.get('killed_at_s'))} s. See bench/failover_redis.py and docs/operations.md.",
        "",
    ]


def failover_postgres_section(results: dict[str, Any]) -> list[str]:
    """The PostgreSQL failover drill's section (bench/failover_postgres.py), if it ran."""
    f = results.get("failover_postgres")
    if not f:
        return []
    seen, b, cost = (
        f.get("seen_by_users") or {},
        f.get("bookings") or {},
        f.get("commit_cost") or {},
    )
    return [
        "## PostgreSQL failover (the primary killed for good, the replica promoted)",
        "",
        "| Synchronous commit | Promoted after (s) | Errors users saw (users) | Error window (s) | "
        "Acknowledged missing / booked twice | Emails missing / twice | Booking with sync on / "
        "off (ms) |",
        "|---|---|---|---|---|---|---|",
        f"| {'on' if f.get('synchronous_commit') else 'off'} | {fmt(f.get('promoted_after_s'))} | "
        f"{seen.get('errors', 'n/a')} ({seen.get('users', 'n/a')}) | {fmt(seen.get('first_s'))}-"
        f"{fmt(seen.get('last_s'))} | {b.get('acknowledged_missing', 'n/a')} / "
        f"{b.get('booked_twice', 'n/a')} | {b.get('emails_missing', 'n/a')} / "
        f"{b.get('emails_doubled', 'n/a')} | {fmt(cost.get('sync_ms'))} / "
        f"{fmt(cost.get('async_ms'))} ({cost.get('ratio', 'n/a')}x) |",
        "",
        f"{f.get('residents', 'n/a')} residents ({_front(f)}); the app on libpq's multi-host "
        "URL (target_session_attrs=read-write); the drill promotes the replica 1 s after the "
        "kill. See bench/failover_postgres.py and docs/operations.md.",
        "",
    ]


def _front(figures: dict[str, Any]) -> str:
    if figures.get("front") == "nginx":
        return "over HTTP through nginx and two gunicorn pools"
    return "Flask test clients on the app in the drill's process"
