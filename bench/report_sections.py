"""The report's sections after the targets: crowd, correctness, ceilings, scale, drills."""

from __future__ import annotations

from typing import Any

from bench.report_failover import failover_postgres_section, failover_redis_section
from bench.report_format import dig, fmt, pct
from bench.report_parts import pools_section, tuning_section
from bench.stats import ratio
from bench.targets import correctness_scenarios, crowd_label


def _cached_share(scenario: dict[str, Any]) -> str:
    """How many of the crowd's searches and slot lists nginx answered from its cache."""
    if "cached" not in scenario:  # a run from before the cache was counted
        return "n/a"
    steps = scenario.get("steps", {})
    asked = sum(steps.get(step, {}).get("count", 0) for step in ("search", "slots"))
    cached = sum(scenario.get("cached", {}).get(step, 0) for step in ("search", "slots"))
    return f"{cached:,} of {asked:,} ({pct(cached / asked)})" if asked else "n/a"


def sections(results: dict[str, Any]) -> list[str]:
    """Markdown lines of every section that has results."""
    lines: list[str] = []
    for part in (
        _setup,
        _crowd,
        _correctness,
        _ceilings,
        pools_section,
        _scale,
        _drills,
        failover_redis_section,
        failover_postgres_section,
        tuning_section,
        _notes,
        _charts,
    ):
        lines.extend(part(results))
    return lines


def _layout(results: dict[str, Any]) -> list[str]:
    """Which layout served the crowd: nginx and two pools, or two bare app servers."""
    p = results.get("profile") or {}
    served = results.get("layout") or {"proxy": "none"}
    gunicorn = f"gunicorn (`--no-control-socket`, `{p.get('worker_class')}` workers)"
    if served.get("proxy") == "nginx":
        return [
            f"- Layout **nginx**: nginx {served.get('nginx')} with the shipped "
            "`deploy/nginx/fairslot.conf` (only its ports substituted) in front of two "
            f"{gunicorn} pools: the waiting room with {served.get('waiting_workers')} workers, "
            f"booking and everything else with {served.get('booking_workers')}. "
            "The generator connects to nginx only and plays the load balancer in front of it: "
            "`FAIRSLOT_PROXY_COUNT=2`, `FAIRSLOT_TRUST_REQUEST_START=true`. "
            f"{_cache_setting(served)}",
        ]
    return [
        f"- Layout **none** (no proxy): two {gunicorn} app servers, "
        f"{p.get('workers')} workers each, `FAIRSLOT_PROXY_COUNT=1`. Users are spread over both; "
        "on a refused connection the generator fails over to the other server, as a load "
        "balancer would.",
    ]


def _cache_setting(served: dict[str, Any]) -> str:
    """What nginx's cache of public availability was allowed to do in this run."""
    age = served.get("availability_max_age")
    if age is None:
        return "Searches and slot lists: the app's default `FAIRSLOT_AVAILABILITY_MAX_AGE`."
    if int(age) <= 0:
        return "Searches and slot lists: **not cached** (`FAIRSLOT_AVAILABILITY_MAX_AGE=0`)."
    return f"Searches and slot lists cached by nginx for {age} s (`FAIRSLOT_AVAILABILITY_MAX_AGE`)."


def _setup(results: dict[str, Any]) -> list[str]:
    p = results.get("profile") or {}
    curve = p.get("curve") or {}
    return [
        "## Set-up",
        "",
        *_layout(results),
        "- The bench's own PostgreSQL (fsync on) and "
        "Redis (append-only file), one RQ worker (`flask --app wsgi worker`), messages to a local "
        "SMTP sink and SMS stub.",
        f"- Normal day: {curve.get('base_rate')} new residents per second. The 6 a.m. spike rises "
        f"to {curve.get('spike_factor')}x that ({fmt(_mul(curve))}/s) in {curve.get('ramp_s')} s, "
        f"holds {curve.get('hold_s')} s and decays (time constant {curve.get('decay_s')} s).",
        "- Virtual residents drive the JSON API (`/api/v1/...`, the same services and admission "
        "gate as the HTML pages, no CSRF on the API). hCaptcha is off: no site key or secret "
        "is configured, as in the tests. Each resident has its own `X-Forwarded-For` address "
        "so the per-client rate limits stay on.",
        f"- Queue on: mode `always`, at most {p.get('max_active')} active, "
        f"{p.get('admit_per_minute')} admissions per minute, idle {p.get('idle_minutes')} min. "
        "Queue off: mode `off` (everyone goes straight to booking).",
        "- 10% refresh impatiently (poll every second), 5% give up while waiting, 3% release "
        "their hold instead of confirming; people retry an error 3 times, 2-5 s apart, then "
        "give up. Client timeout 10 s.",
        "",
    ]


def _mul(curve: dict[str, Any]) -> float | None:
    if not curve:
        return None
    return float(curve["base_rate"]) * float(curve["spike_factor"])


def _crowd(results: dict[str, Any]) -> list[str]:
    crowd = results.get("crowd")
    if not crowd:
        return []
    off, on = crowd.get("off"), crowd.get("on")
    high = crowd.get("on_high")
    lines = [
        "## Flash crowd: queue on vs queue off",
        "",
        f"{crowd.get('arrivals')} residents arrive on the same curve in both scenarios.",
        "",
    ]
    if high:
        lines += [
            f"The third column is a second crowd, queue on only: the spike twice as steep "
            f"({fmt(dig(crowd, 'high', 'spike_per_s'))} arrivals/s, "
            f"{dig(crowd, 'high', 'arrivals')} residents) for the same places.",
            "",
        ]
    columns = [(name, s) for name, s in (("off", off), ("on", on), ("on_high", high)) if s]
    rows = [
        ("Requests", lambda s: s["requests"]),
        ("Errors (5xx, timeouts, refused)", lambda s: s["errors"]),
        ("Error rate", lambda s: pct(s["errors"] / s["requests"] if s["requests"] else None)),
        ("Timeouts", lambda s: s["statuses"].get("timeout", 0)),
        ("Booked", lambda s: s["outcomes"]["outcomes"].get("booked", 0)),
        ("Told sold out", lambda s: s["outcomes"]["outcomes"].get("sold_out", 0)),
        ("Gave up after errors", lambda s: s["outcomes"]["outcomes"].get("gave_up", 0)),
        ("Abandoned", lambda s: s["outcomes"]["outcomes"].get("abandoned", 0)),
        (
            "Confirmed bookings per minute (mean)",
            lambda s: s["outcomes"]["mean_bookings_per_minute"],
        ),
        (
            "Confirmed bookings per minute (peak)",
            lambda s: s["outcomes"]["peak_bookings_per_minute"],
        ),
        ("Last person knew their outcome at (s)", lambda s: s["outcomes"]["last_outcome_s"]),
        (
            "Time to outcome p50 / p95 (s)",
            lambda s: (
                f"{fmt(s['outcomes']['time_to_outcome_p50_s'])} / "
                f"{fmt(s['outcomes']['time_to_outcome_p95_s'])}"
            ),
        ),
        ("Searches and slot lists answered by nginx's cache", _cached_share),
        (
            "Load generator CPU (share of one core)",
            lambda s: pct(s["generator_cpu"]["cpu_share_of_one_core"]),
        ),
    ]
    heads = ["Queue off", "Queue on", *(["Queue on, 2x spike"] if high else [])]
    lines += [f"| | {' | '.join(heads)} |", "|---" * (len(heads) + 1) + "|"]
    shown = [off, on, *([high] if high else [])]
    for label, get in rows:
        cells = " | ".join(fmt(get(sc)) if sc else "n/a" for sc in shown)
        lines.append(f"| {label} | {cells} |")
    if off and on:
        err_off = off["errors"] / max(1, off["requests"])
        err_on = on["errors"] / max(1, on["requests"])
        lines += [
            "",
            "**Headline ratios (queue off / queue on):** "
            f"error rate {err_off:.0%} vs {err_on:.0%}"
            f"{f' ({_ratio_text(err_off, err_on)})' if err_on else ''}, "
            f"last outcome known {_ratio_text(_last(off), _last(on))}, "
            f"worst booking-step p99 {_ratio_text(_worst(off), _worst(on))}; "
            f"confirmed bookings (on / off) {_ratio_text(_booked(on), _booked(off))}.",
            "",
        ]
    for label, scenario in columns:
        lines += [
            f"### Latency per step, {crowd_label(label)} (ms)",
            "",
            "| Step | Requests | Errors | p50 | p95 | p99 | max |",
            "|---|---|---|---|---|---|---|",
        ]
        for step, row in scenario["steps"].items():
            lines.append(
                f"| {step} | {row['count']} | {row['errors']} | {fmt(row['p50_ms'])} | "
                f"{fmt(row['p95_ms'])} | {fmt(row['p99_ms'])} | {fmt(row['max_ms'])} |"
            )
        lines.append("")
    return lines


def _last(scenario: dict[str, Any]) -> float:
    return float(scenario["outcomes"]["last_outcome_s"])


def _booked(scenario: dict[str, Any]) -> int:
    return int(scenario["outcomes"]["outcomes"].get("booked", 0))


def _worst(scenario: dict[str, Any]) -> float | None:
    values = [dig(scenario, "steps", s, "p99_ms") for s in ("slots", "hold", "confirm")]
    return max((v for v in values if v is not None), default=None)


def _ratio_text(a: float | None, b: float | None) -> str:
    value = ratio(a, b)
    if value is None:
        return f"{fmt(a)} vs {fmt(b)}"
    return f"{value:,.1f}x"


def _correctness(results: dict[str, Any]) -> list[str]:
    rows = correctness_scenarios(results)
    if not rows:
        return []
    lines = [
        "## Correctness",
        "",
        "| Scenario | Double bookings | Courses (dose 1 without dose 2) | "
        "Booked / capacity (live holds) | Sold out exactly | "
        "Acknowledged / lost | Messages enqueued = bookings | Confirmations lost (late) | "
        "Sent twice | Kendall tau (n) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, c in rows:
        lines.append(
            f"| {label} | {c['double_bookings']} | "
            f"{c.get('courses', 'n/a')} ({c.get('half_courses', 'n/a')}) | "
            f"{c['booked']} / {c['capacity']} ({c['live_holds']}) | "
            f"{fmt(c['sold_out_exactly'])} | {c['acknowledged']} / {c['acknowledged_lost']} | "
            f"{fmt(c['messages_equal_bookings'])} ({c['messages_enqueued']}) | "
            f"{c['confirmations_lost']} ({c.get('confirmations_late', 'n/a')}) | "
            f"{c['confirmations_sent_twice']} | {fmt(c['kendall_tau'], 3)} ({c['kendall_n']}) |"
        )
    lines += [
        "",
        "Double bookings count slots over capacity, slots whose counter disagrees with "
        "their confirmed reservations, and people confirmed twice for one dose of a vaccine; "
        "courses are the two-dose bookings, and in brackets those whose dose 1 stands "
        "without its dose 2 (or the reverse) in the database or in the answer. Kendall "
        "tau compares each admitted ticket's place in line (arrival) with its admission "
        "order (1.0 = strictly first come, first served).",
        "",
    ]
    return lines


def _ceilings(results: dict[str, Any]) -> list[str]:
    c = results.get("ceilings")
    if not c:
        return []
    lines = [
        "## Ceilings of this machine (same run, same gunicorn settings)",
        "",
        "| Endpoint | per second | Generator CPU |",
        "|---|---|---|",
    ]
    for key, label in (
        ("hello", "Bare Flask hello"),
        ("bare_booking", "Bare Flask single-statement booking (CTE)"),
        ("fairslot_polls", "FairSlot queue-status poll (API)"),
        ("fairslot_polls_direct", "FairSlot queue-status poll, direct to both pools"),
        ("fairslot_bookings", "FairSlot hold + confirm (confirmed bookings)"),
        ("fairslot_bookings_direct", "FairSlot hold + confirm, direct to both pools"),
    ):
        if f"{key}_per_s" in c:
            lines.append(f"| {label} | {fmt(c[f'{key}_per_s'])} | {pct(c.get(f'{key}_cpu'))} |")
    for key, label in (
        ("pgbench_spread_tps", "pgbench, that statement, spread over slots"),
        ("pgbench_hot_tps", "pgbench, that statement, one hot slot"),
    ):
        if c.get(key) is not None:
            lines.append(f"| {label} | {fmt(c[key])} | n/a |")
    lines += [
        "",
        f"Queue-status polls/s as a fraction of bare hello: "
        f"**{pct(ratio(c.get('fairslot_polls_per_s'), c.get('hello_per_s')))}**; confirmed "
        f"bookings/s as a fraction of the bare booking endpoint: "
        f"**{pct(ratio(c.get('fairslot_bookings_per_s'), c.get('bare_booking_per_s')))}**.",
        "",
    ]
    if "fairslot_polls_direct_per_s" in c:
        polls = ratio(c.get("fairslot_polls_direct_per_s"), c.get("hello_per_s"))
        books = ratio(c.get("fairslot_bookings_direct_per_s"), c.get("bare_booking_per_s"))
        lines[-1:] = [
            f"Direct to both pools, as many workers as the bare app: polls "
            f"**{pct(polls)}** of hello, bookings **{pct(books)}** of the bare booking.",
            "",
        ]
    if c.get("note"):
        lines += [c["note"], ""]
    return lines


def _scale(results: dict[str, Any]) -> list[str]:
    s = results.get("scale")
    if not s:
        return []
    lines = ["## Scale", ""]
    if s.get("slots"):
        lines += [
            "| Slots | Per scale clinic | Search p50 / p95 (ms) | Slot listing p50 / p95 (ms) |",
            "|---|---|---|---|",
        ]
        for row in s["slots"]:
            lines.append(
                f"| {row['slots']:,} | {fmt(row.get('per_clinic'))} | "
                f"{fmt(row['search_p50_ms'])} / {fmt(row['search_p95_ms'])} | "
                f"{fmt(row['slots_p50_ms'])} / {fmt(row['slots_p95_ms'])} |"
            )
        lines.append("")
    if s.get("waiting"):
        lines += [
            "| People waiting | Queue-status HTTP p50 / p95 (ms) | POLL script p50 (µs) | "
            "Redis used memory (MB) | Redis bytes per waiting person |",
            "|---|---|---|---|---|",
        ]
        for row in s["waiting"]:
            lines.append(
                f"| {row['waiting']:,} | {fmt(row['http_p50_ms'])} / {fmt(row['http_p95_ms'])} | "
                f"{fmt(row['script_p50_us'])} | {fmt(row.get('redis_used_memory_mb'))} | "
                f"{fmt(row.get('redis_bytes_per_waiting'))} |"
            )
        lines.append("")
    if s.get("note"):
        lines += [s["note"], ""]
    return lines


def _drills(results: dict[str, Any]) -> list[str]:
    d = results.get("drills")
    if not d:
        return []
    lines = [
        "## Fault drills (during a crowd, queue on)",
        "",
        "| Drill | Errors users saw | Error window (s) | Recovered after (s) | "
        "Acknowledged bookings lost | Confirmations lost (late) / twice | Failovers | "
        "Worker exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, drill in d.items():
        w = drill.get("errors_after_fault") or {}
        c = drill.get("correctness") or {}
        lines.append(
            f"| {name} | {w.get('errors', 'n/a')} | {fmt(w.get('span_s'))} | "
            f"{fmt(drill.get('recovered_s'))} | {c.get('acknowledged_lost', 'n/a')} | "
            f"{c.get('confirmations_lost', 'n/a')} ({c.get('confirmations_late', 'n/a')}) / "
            f"{c.get('confirmations_sent_twice', 'n/a')} | "
            f"{drill.get('failovers', 'n/a')} | {fmt(drill.get('worker_exit_code'))} |"
        )
    lines += [
        "",
        "Recovered after: seconds from the fault until the first successful answer after the "
        "last error users saw. Failovers: refused connections the generator (as a load "
        "balancer) retried on the other server; users did not see them. Confirmations lost: "
        "booked residents with no confirmation in the sinks 2 minutes after the crowd and none "
        "left to send; late: not delivered yet but still queued or being sent in the outbox. "
        "Worker exit: the RQ worker's exit code after "
        "the drill (n/a: still running); a worker that died is restarted, as a supervisor would.",
        "",
    ]
    return lines


def _notes(results: dict[str, Any]) -> list[str]:
    notes = results.get("notes") or []
    if not notes:
        return []
    return ["## Notes and findings", "", *[f"- {n}" for n in notes], ""]


def _charts(results: dict[str, Any]) -> list[str]:
    charts = results.get("charts") or []
    if not charts:
        return []
    return [
        "## Charts (the crowds on the same axes)",
        "",
        *[f"![{c}]({c})" for c in charts],
        "",
    ]
