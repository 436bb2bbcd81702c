"""Pure numbers for the benchmark: percentiles, summaries, Kendall tau, the arrival curve.

Standard library only, so the unit tests run in the test environment without bench extras.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


@dataclass(frozen=True)
class Summary:
    """Latency figures of one step, in milliseconds, and its error counts."""

    count: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @property
    def error_rate(self) -> float:
        """Errors as a fraction of all attempts (0 when there were none)."""
        return self.errors / self.count if self.count else 0.0


def summarize(latencies_s: Iterable[float], errors: int = 0) -> Summary:
    """Summarise latencies given in seconds (successes and failures alike) as milliseconds."""
    ms = [v * 1000 for v in latencies_s]

    def p(q: float) -> float | None:
        value = percentile(ms, q)
        return None if value is None else round(value, 1)

    return Summary(
        count=len(ms),
        errors=errors,
        p50_ms=p(50),
        p95_ms=p(95),
        p99_ms=p(99),
        max_ms=round(max(ms), 1) if ms else None,
    )


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float | None:
    """Kendall's tau-b between two rankings of the same items; None with fewer than two.

    O(n^2), fine for the few thousand admissions of a run; ties count for neither side.
    """
    if len(first) != len(second):
        raise ValueError("both sequences must have the same length")
    n = len(first)
    if n < 2:
        return None
    concordant = discordant = ties_first = ties_second = 0
    for i in range(n):
        for j in range(i + 1, n):
            a = (first[i] > first[j]) - (first[i] < first[j])
            b = (second[i] > second[j]) - (second[i] < second[j])
            if a == 0 and b == 0:
                continue
            if a == 0:
                ties_first += 1
            elif b == 0:
                ties_second += 1
            elif a == b:
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt(
        (concordant + discordant + ties_first) * (concordant + discordant + ties_second)
    )
    if denominator == 0:
        return None
    return (concordant - discordant) / denominator


@dataclass(frozen=True)
class ArrivalCurve:
    """Arrivals per second: a normal-day base rate and a 6 a.m. spike that decays.

    The spike rises linearly over ``ramp_s`` to ``base_rate * spike_factor``, holds for
    ``hold_s``, then falls exponentially with time constant ``decay_s``.
    """

    base_rate: float
    spike_factor: float
    ramp_s: float
    hold_s: float
    decay_s: float

    @property
    def peak_rate(self) -> float:
        """The rate at the top of the spike."""
        return self.base_rate * self.spike_factor

    def rate(self, t: float) -> float:
        """Arrivals per second at t seconds after 6 a.m."""
        if t < 0:
            return self.base_rate
        peak = self.peak_rate
        if t < self.ramp_s:
            return self.base_rate + (peak - self.base_rate) * t / self.ramp_s
        if t < self.ramp_s + self.hold_s:
            return peak
        decayed = t - self.ramp_s - self.hold_s
        return self.base_rate + (peak - self.base_rate) * math.exp(-decayed / self.decay_s)


def arrival_times(curve: ArrivalCurve, duration_s: float, seed: int = 6) -> list[float]:
    """Arrival instants of a non-homogeneous Poisson process (thinning), reproducible by seed."""
    rng = random.Random(seed)
    peak = max(curve.peak_rate, curve.base_rate)
    if peak <= 0:
        return []
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= duration_s:
            return times
        if rng.random() * peak <= curve.rate(t):
            times.append(t)


def per_interval(times: Iterable[float], width_s: float, end_s: float) -> list[int]:
    """Count events per interval of width_s from 0 to end_s (events outside are dropped)."""
    buckets = [0] * max(1, math.ceil(end_s / width_s))
    for t in times:
        index = int(t // width_s)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
