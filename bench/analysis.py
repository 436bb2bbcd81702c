"""Turn a scenario's raw records into the report's figures (pure: standard library only).

A request record is (start s, step, latency s, status, port); status is the HTTP code as text,
or ``timeout``, ``refused`` or ``error``. A resident record is a mapping with at least
``arrival``, ``outcome``, ``outcome_at``, ``joined_at`` and ``admitted_at``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bench.stats import per_interval, percentile, summarize

STEPS = ("search", "join", "queue_status", "slots", "hold", "confirm", "release")
FAILURES = ("timeout", "refused", "error")


def is_error(status: str) -> bool:
    """A 5xx, a timeout or a failed connection: what the target calls an error."""
    return status in FAILURES or (status.isdigit() and int(status) >= 500)


def step_table(requests: Iterable[Sequence[Any]]) -> dict[str, dict[str, Any]]:
    """Per step: count, errors, error rate and p50/p95/p99 latency of answered requests."""
    latencies: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for _t, step, latency, status, _port in requests:
        if status == "failover":
            continue  # a refused attempt the balancer retried elsewhere: not a request seen
        totals[step] += 1
        if is_error(str(status)):
            errors[step] += 1
            if str(status) != "timeout":
                continue
        latencies.setdefault(step, []).append(float(latency))
    table = {}
    for step in [s for s in STEPS if s in totals] + sorted(set(totals) - set(STEPS)):
        summary = summarize(latencies.get(step, []), errors[step])
        row = asdict(summary)
        row["count"] = totals[step]
        row["error_rate"] = errors[step] / totals[step]
        table[step] = row
    return table


def status_counts(requests: Iterable[Sequence[Any]]) -> dict[str, int]:
    """How many answers of each status (or failure kind)."""
    return dict(Counter(str(r[3]) for r in requests))


def outcome_figures(residents: Sequence[Mapping[str, Any]], bin_s: float = 60.0) -> dict[str, Any]:
    """Outcomes, booking rate and how long until the last person knew where they stood."""
    outcomes = Counter(str(r["outcome"]) for r in residents)
    known = [float(r["outcome_at"]) for r in residents if r.get("outcome_at") is not None]
    waits = [
        float(r["outcome_at"]) - float(r["arrival"])
        for r in residents
        if r.get("outcome_at") is not None
    ]
    booked_at = [float(r["outcome_at"]) for r in residents if r["outcome"] == "booked"]
    span = max(known) if known else 0.0
    booking_span = (max(booked_at) - min(booked_at)) if len(booked_at) > 1 else 0.0
    return {
        "residents": len(residents),
        "outcomes": dict(outcomes),
        "last_outcome_s": round(span, 1),
        "time_to_outcome_p50_s": _round(percentile(waits, 50)),
        "time_to_outcome_p95_s": _round(percentile(waits, 95)),
        "bookings_per_minute": per_interval(booked_at, bin_s, span + bin_s),
        "peak_bookings_per_minute": max(per_interval(booked_at, bin_s, span + bin_s) or [0]),
        "mean_bookings_per_minute": round(len(booked_at) / booking_span * 60, 1)
        if booking_span
        else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def timeline(
    requests: Sequence[Sequence[Any]],
    residents: Sequence[Mapping[str, Any]],
    bin_s: float = 5.0,
) -> dict[str, list[float]]:
    """Series for the charts, one value per bin: latency p95, errors, waiting, admissions."""
    end = max([float(r[0]) + float(r[2]) for r in requests] + [bin_s])
    bins = int(end // bin_s) + 1
    lat: list[list[float]] = [[] for _ in range(bins)]
    errs = [0] * bins
    for t, _step, latency, status, _port in requests:
        index = min(bins - 1, int(float(t) // bin_s))
        if is_error(str(status)):
            errs[index] += 1
        else:
            lat[index].append(float(latency) * 1000)
    waiting = [0] * bins
    for r in residents:
        joined = r.get("joined_at")
        if joined is None:
            continue
        left = r.get("admitted_at") or r.get("outcome_at") or end
        for index in range(int(float(joined) // bin_s), min(bins, int(float(left) // bin_s) + 1)):
            waiting[index] += 1
    admitted = per_interval(
        [float(r["admitted_at"]) for r in residents if r.get("admitted_at") is not None], bin_s, end
    )
    booked = per_interval(
        [float(r["outcome_at"]) for r in residents if r["outcome"] == "booked"], bin_s, end
    )
    return {
        "t": [i * bin_s for i in range(bins)],
        "p95_ms": [percentile(v, 95) or 0.0 for v in lat],
        "errors": [float(e) for e in errs],
        "waiting": [float(w) for w in waiting],
        "admitted_per_min": [a * 60 / bin_s for a in admitted[:bins]]
        + [0.0] * (bins - len(admitted)),
        "booked_per_min": [b * 60 / bin_s for b in booked[:bins]] + [0.0] * (bins - len(booked)),
    }


def error_window(
    requests: Iterable[Sequence[Any]], since_s: float, until_s: float | None = None
) -> dict[str, Any]:
    """Errors users saw from since_s on: how many, first and last, and the span between."""
    times = sorted(
        float(t)
        for t, _s, _l, status, _p in requests
        if float(t) >= since_s
        and (until_s is None or float(t) <= until_s)
        and is_error(str(status))
    )
    if not times:
        return {"errors": 0, "first_s": None, "last_s": None, "span_s": 0.0}
    return {
        "errors": len(times),
        "first_s": round(times[0] - since_s, 2),
        "last_s": round(times[-1] - since_s, 2),
        "span_s": round(times[-1] - times[0], 2),
    }


BOOKING_STEPS = ("search", "slots", "hold", "confirm", "release")


def booking_p99_by_bin(
    requests: Sequence[Sequence[Any]], bin_s: float = 5.0
) -> list[dict[str, Any]]:
    """The generator's booking-step p99 (ms) and requests per 5 s bin."""
    bins: dict[int, list[float]] = {}
    for t, step, latency, status, _port in requests:
        if step in BOOKING_STEPS and status != "failover":
            bins.setdefault(int(float(t) // bin_s), []).append(float(latency) * 1000)
    return [
        {"t": i * bin_s, "requests": len(v), "p99_ms": round(percentile(v, 99) or 0.0, 1)}
        for i, v in sorted(bins.items())
    ]
