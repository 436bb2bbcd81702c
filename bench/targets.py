"""The targets of issues 8, 21 and 23, each measured or not, and met or not (pure)."""

from __future__ import annotations

from typing import Any

from bench.report_format import dig, fmt, pct
from bench.stats import ratio

BOOKING_STEPS = ("slots", "hold", "confirm")
# A measure that should not grow with the data: at most this much slower at the largest size.
FLAT = 1.5
# The "10x too low" drill has ramped to capacity when its rate reaches this share of the rate
# the "10x too high" drill settled at (the controller's own measure of capacity, from above).
RAMP_SHARE = 0.8

Row = tuple[str, str, bool | None]


def _errors_row(what: str, scenario: dict[str, Any] | None) -> Row:
    if not scenario:
        return (what, "n/a", None)
    timeouts = scenario["statuses"].get("timeout", 0)
    return (
        what,
        f"{scenario['errors']:,} errors ({timeouts:,} timeouts) of {scenario['requests']:,}",
        scenario["errors"] == 0,
    )


def worst_booking_p99(scenario: dict[str, Any]) -> float | None:
    """The worst p99 of the admitted residents' booking steps (slots, hold, confirm)."""
    worst = [dig(scenario, "steps", s, "p99_ms") for s in BOOKING_STEPS]
    return max((w for w in worst if w is not None), default=None)


def crowd_rows(results: dict[str, Any]) -> list[Row]:
    """Queue on at 140 arrivals/s (errors, polls p99, booking p99) and at 280/s (errors)."""
    on, high = dig(results, "crowd", "on"), dig(results, "crowd", "on_high")
    rows = [_errors_row("Queue on, 140 arrivals/s: 0 errors (5xx, timeouts, refused)", on)]
    p99 = dig(on or {}, "steps", "queue_status", "p99_ms")
    rows.append(
        (
            "Queue on, 140/s: queue-status p99 < 100 ms",
            "n/a" if p99 is None else f"{fmt(p99)} ms",
            None if p99 is None else p99 < 100,
        )
    )
    worst = worst_booking_p99(on) if on else None
    rows.append(
        (
            "Queue on, 140/s: admitted users' booking steps p99 < 500 ms",
            "n/a" if worst is None else f"{fmt(worst)} ms (worst step)",
            None if worst is None else worst < 500,
        )
    )
    rows.append(_errors_row("Queue on, 280 arrivals/s (140x): 0 errors", high))
    return rows


def ceiling_rows(results: dict[str, Any]) -> list[Row]:
    """Polls against bare hello (>= 100%), bookings against the bare booking (>= 30%)."""
    c = results.get("ceilings") or {}
    return [
        _ceiling_row(
            c, "Queue-status polls/s >= 100% of bare Flask hello", "fairslot_polls", "hello", 1.0
        ),
        _ceiling_row(
            c,
            "Confirmed bookings/s >= 30% of the bare single-statement booking",
            "fairslot_bookings",
            "bare_booking",
            0.3,
        ),
    ]


def _ceiling_row(c: dict[str, Any], what: str, ours: str, bare: str, target: float) -> Row:
    """One ceiling ratio, judged on the production path (through nginx to its pool); the same
    straight to both pools (as many workers as the bare app, no nginx hop) shown beside it."""
    via_nginx = ratio(c.get(f"{ours}_per_s"), c.get(f"{bare}_per_s"))
    direct = ratio(c.get(f"{ours}_direct_per_s"), c.get(f"{bare}_per_s"))
    if via_nginx is None:
        return what, "n/a", None
    measured = f"{pct(via_nginx)} ({fmt(c.get(f'{ours}_per_s'))} vs {fmt(c.get(f'{bare}_per_s'))})"
    if direct is not None:
        measured += f"; straight to both pools, the bare app's worker count: {pct(direct)}"
    return what, measured, via_nginx >= target


def scale_rows(results: dict[str, Any]) -> list[Row]:
    """Search at 1M slots against 10k, queue status to 1M waiting, Redis bytes per person."""
    slots = dig(results, "scale", "slots") or []
    waiting = dig(results, "scale", "waiting") or []
    rows: list[Row] = []
    small = slots[0] if slots else None
    big = next((r for r in slots if r.get("scale_slots", r["slots"]) >= 1_000_000), None)
    search = ratio(dig(big or {}, "search_p50_ms"), dig(small or {}, "search_p50_ms"))
    rows.append(
        (
            f"Search at 1M slots (1,000 per clinic) <= {FLAT}x its time at 10k (full run)",
            f"{search:.2f}x ({fmt(big['search_p50_ms'])} vs {fmt(small['search_p50_ms'])} ms p50)"
            if big and small and search is not None
            else "n/a (no 1M row: the full run has it)",
            None if search is None else search <= FLAT,
        )
    )
    most = waiting[-1] if waiting else None
    flat = ratio(dig(most or {}, "http_p50_ms"), dig(waiting[0] if waiting else {}, "http_p50_ms"))
    at_million = bool(most and most["waiting"] >= 1_000_000)
    rows.append(
        (
            f"Queue status flat to 1M waiting (p50 at most {FLAT}x its time at the smallest line)",
            f"{flat:.2f}x at {most['waiting']:,} waiting"
            + ("" if at_million else " (1M: full run)")
            if most and flat is not None
            else "n/a",
            None if flat is None or not at_million else flat <= FLAT,
        )
    )
    per = dig(most or {}, "redis_bytes_per_waiting")
    rows.append(
        (
            "Redis memory per waiting person reported",
            "n/a" if per is None or not most else f"{fmt(per)} bytes ({most['waiting']:,} waiting)",
            None if per is None else True,
        )
    )
    return rows


def tuning_rows(results: dict[str, Any]) -> list[Row]:
    """The self-tuning drills: booking p99 held under target, and the ramp to capacity."""
    t = results.get("tuning") or {}
    high, low = t.get("10x too high"), t.get("10x too low")
    target = t.get("target_ms", 500)
    rows: list[Row] = []
    if high:
        over = high.get("bins_over_target_second_half")
        rows.append(
            (
                f"Tuning, admission 10x too high: booking p99 held under {target} ms "
                "(second half, 5 s bins)",
                f"{over} of {len(high.get('bins', [])) - len(high.get('bins', [])) // 2} bins "
                f"over; rate {fmt(high.get('start_per_minute'))} -> "
                f"{fmt(_whole(high.get('rate_last')))}/min",
                over == 0,
            )
        )
    else:
        rows.append(("Tuning, admission 10x too high: booking p99 held under target", "n/a", None))
    capacity = dig(high or {}, "rate_last")
    reached = dig(low or {}, "rate_max")
    share = ratio(reached, capacity)
    rows.append(
        (
            "Tuning, admission 10x too low: ramps to capacity (the rate the 10x-too-high drill "
            f"settled at; {RAMP_SHARE:.0%} of it counts)",
            f"{fmt(_whole(low.get('start_per_minute')))} -> {fmt(_whole(reached))}/min, "
            f"{pct(share)} of {fmt(_whole(capacity))}"
            if low and share is not None
            else "n/a",
            None if share is None else share >= RAMP_SHARE,
        )
    )
    return rows


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def correctness_scenarios(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every scenario with correctness checks: crowds, the pool splits' crowds, drills."""
    rows = []
    for label in ("off", "on", "on_high"):
        c = dig(results, "crowd", label, "correctness")
        if c:
            rows.append((f"crowd, {crowd_label(label)}", c))
    for split, crowd in (dig(results, "pools", "splits") or {}).items():
        if crowd.get("correctness"):
            rows.append((f"pools {split}, queue on", crowd["correctness"]))
    for name, drill in (results.get("drills") or {}).items():
        if drill.get("correctness"):
            rows.append((f"drill: {name}", drill["correctness"]))
    return rows


def crowd_label(label: str) -> str:
    """How the report names a crowd scenario."""
    return {"off": "queue off", "on": "queue on", "on_high": "queue on, 2x spike"}.get(label, label)


def correctness_rows(results: dict[str, Any]) -> list[Row]:
    """Zero double or lost bookings, lost or repeated messages, tau = 1, in every scenario."""
    rows: list[Row] = []
    checks = correctness_scenarios(results)
    if checks:
        bad = [
            name
            for name, c in checks
            if c["double_bookings"]
            or c["acknowledged_lost"]
            or c["confirmations_lost"]
            or c["confirmations_sent_twice"]
            or c.get("half_courses", 0)
            or not c.get("messages_equal_bookings", True)
        ]
        rows.append(
            (
                "No double booking, dose 1 without dose 2, lost acknowledged booking, "
                "lost or repeated confirmation",
                f"{len(checks)} scenarios checked, {len(bad)} with a failure"
                + (f" ({', '.join(bad)})" if bad else ""),
                not bad,
            )
        )
        taus = [
            (n, float(c["kendall_tau"]))
            for n, c in checks
            if c.get("kendall_tau") is not None and c.get("kendall_n")
        ]
        low = [n for n, tau in taus if round(tau, 3) < 1.0]
        rows.append(
            (
                "Admission order = arrival order (Kendall tau 1.000)",
                f"{len(taus)} scenarios with admissions, lowest "
                f"{fmt(min((tau for _, tau in taus), default=None), 3)}"
                + (f" ({', '.join(low)})" if low else ""),
                None if not taus else not low,
            )
        )
    failed = []
    seen = 0
    for part in ("failover_redis", "failover_postgres"):
        b = dig(results, part, "bookings")
        if b:
            seen += 1
            keys = ("acknowledged_missing", "booked_twice", "emails_missing", "emails_doubled")
            if any(b.get(k) for k in (*keys, "overbooked_slots")):
                failed.append(part)
    if seen:
        rows.append(
            (
                "Failover drills: no acknowledged booking lost or doubled, one email each",
                f"{seen} drills checked, {len(failed)} with a failure"
                + (f" ({', '.join(failed)})" if failed else ""),
                not failed,
            )
        )
    return rows


def targets(results: dict[str, Any]) -> list[Row]:
    """Each target: (what, measured, met); met is None when not measured in this run."""
    return [
        *crowd_rows(results),
        *ceiling_rows(results),
        *scale_rows(results),
        *tuning_rows(results),
        *correctness_rows(results),
        *failover_rows(results),
    ]


def failover_rows(results: dict[str, Any]) -> list[Row]:
    """Issue 23: both failover drills ran, their crowd through the shipped nginx site."""
    rows: list[Row] = []
    for part, name in (("failover_redis", "Redis"), ("failover_postgres", "PostgreSQL")):
        f = results.get(part)
        front = (f or {}).get("front")
        rows.append(
            (
                f"{name} failover drill ran, its crowd through nginx",
                "n/a"
                if not f
                else f"ran; crowd through {front or 'the app in-process (no nginx)'}",
                None if not f else front == "nginx",
            )
        )
    return rows
