"""The report's sections for the pool splits and the self-tuning drills."""

from __future__ import annotations

from typing import Any

from bench.report_format import dig, fmt, pct
from bench.targets import worst_booking_p99


def pools_section(results: dict[str, Any]) -> list[str]:
    """The pool splits' crowds side by side (``--parts pools``), if they ran."""
    splits = dig(results, "pools", "splits") or {}
    if not splits:
        return []
    names = list(splits)
    lines = [
        "## Pool splits side by side (nginx; queue on, the 140/s crowd)",
        "",
        "Workers of the waiting-room pool + the booking pool; the same arrivals, one split "
        "after the other in this run.",
        "",
        f"| | {' | '.join(names)} |",
        "|---" * (len(names) + 1) + "|",
    ]
    rows = [
        ("Errors / requests", lambda s: f"{s['errors']} / {s['requests']:,}"),
        ("Queue-status p50 / p99 (ms)", lambda s: _p50_p99(s, "queue_status")),
        ("Join p99 (ms)", lambda s: fmt(dig(s, "steps", "join", "p99_ms"))),
        ("Search p99 (ms)", lambda s: fmt(dig(s, "steps", "search", "p99_ms"))),
        ("Booking steps, worst p99 (ms)", lambda s: fmt(worst_booking_p99(s))),
        ("Booked", lambda s: fmt(s["outcomes"]["outcomes"].get("booked", 0))),
        (
            "Confirmed bookings per minute (mean)",
            lambda s: fmt(s["outcomes"]["mean_bookings_per_minute"]),
        ),
        ("Last person knew their outcome at (s)", lambda s: fmt(s["outcomes"]["last_outcome_s"])),
        ("Load generator CPU", lambda s: pct(s["generator_cpu"]["cpu_share_of_one_core"])),
    ]
    for label, get in rows:
        lines.append(f"| {label} | {' | '.join(get(splits[n]) for n in names)} |")
    return [*lines, ""]


def _p50_p99(scenario: dict[str, Any], step: str) -> str:
    return (
        f"{fmt(dig(scenario, 'steps', step, 'p50_ms'))} / "
        f"{fmt(dig(scenario, 'steps', step, 'p99_ms'))}"
    )


def tuning_section(results: dict[str, Any]) -> list[str]:
    """The self-tuning drills: a summary row each, their charts, the rate and p99 per 5 s."""
    t = results.get("tuning")
    drills = {k: v for k, v in (t or {}).items() if isinstance(v, dict)}
    if not drills:
        return []
    target = t.get("target_ms") if t else None
    lines = [
        "## Self-tuning drills (admission controller on)",
        "",
        f"Target: booking p99 under {fmt(target)} ms. Rates in admissions per minute.",
        "",
        "| Drill | Start | Rate min / max / last | Booking p99 bins over target "
        "(all / second half) | Errors / requests | Booked |",
        "|---|---|---|---|---|---|",
    ]
    for name, d in drills.items():
        lines.append(
            f"| {name} | {_whole(d.get('start_per_minute'))} | {_whole(d.get('rate_min'))} / "
            f"{_whole(d.get('rate_max'))} / {_whole(d.get('rate_last'))} | "
            f"{d.get('bins_over_target')} / {d.get('bins_over_target_second_half')} | "
            f"{d.get('errors')} / {d.get('requests')} | {d.get('booked')} |"
        )
    for chart in (t or {}).get("charts", []):
        lines += ["", f"![{chart}]({chart})"]
    for name, d in drills.items():
        rates = {int(s["t"] // 5) * 5: s.get("rate") for s in d.get("samples", [])}
        lines += ["", f"### {name}: every 5 s", "", "| t (s) | Rate | Booking p99 (ms) |"]
        lines.append("|---|---|---|")
        for b in d.get("bins", []):
            rate = rates.get(int(b["t"]))
            lines.append(f"| {_whole(b['t'])} | {_whole(rate)} | {_whole(b['p99_ms'])} |")
    lines.append("")
    return lines


def _whole(value: float | None) -> str:
    return fmt(None if value is None else round(value))
