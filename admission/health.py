"""The booking path's health: a sliding window of its latency and errors, shared in Redis.

Every app server adds each booking request to the bucket of the second it ended in: one hash
per second, a counter per latency band (``le<ms>``, as Prometheus names histogram bands) and one
for errors, expiring after a few minutes. Recording is one pipelined round trip; reading the
window is one more (one HGETALL per second of the window), done only by whoever runs the
controller's step. Nothing here knows Flask.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Latency bands in milliseconds. The controller's target is added as a band of its own, so
# "slower than the target" is counted exactly, not estimated.
BANDS_MS = (25, 50, 100, 250, 500, 1000, 2500, 5000)
ERROR_FIELD = "err"  # a server error (5xx): slower than any target, whatever it took
BUCKET_TTL_SECONDS = 300


def bands_for(target_ms: int) -> tuple[int, ...]:
    """The latency bands with ``target_ms`` among them."""
    return tuple(sorted({*BANDS_MS, int(target_ms)}))


def band_of(latency_ms: float, bands: Sequence[int]) -> str:
    """The field a request of this latency is counted in (``inf`` past the last band)."""
    for bound in bands:
        if latency_ms <= bound:
            return f"le{bound}"
    return "inf"


@dataclass(frozen=True)
class WindowFigures:
    """The booking path over the window: how many requests, how many too slow or failed."""

    seconds: int
    requests: int  # including errors
    errors: int
    slow: int  # slower than the target, errors included
    p50_ms: int | None  # the upper bound of the band holding the median (None: no requests)
    p99_ms: int | None  # likewise for the 99th percentile; None past the last band or no data

    @property
    def slow_fraction(self) -> float:
        """Share of requests slower than the target (errors count as slow)."""
        return self.slow / self.requests if self.requests else 0.0

    @property
    def per_second(self) -> float:
        """Booking requests per second over the window."""
        return self.requests / self.seconds if self.seconds else 0.0


def bucket_key(prefix: str, second: int) -> str:
    """The hash holding one second of the window (same hash tag as the queue's keys)."""
    return f"{prefix}:health:{second}"


def record(
    redis: Any, prefix: str, *, ended_at: float, latency_ms: float, error: bool, target_ms: int
) -> None:
    """Count one booking request in its second's bucket (one round trip)."""
    key = bucket_key(prefix, int(ended_at))
    field = ERROR_FIELD if error else band_of(latency_ms, bands_for(target_ms))
    pipe = redis.pipeline(transaction=False)
    pipe.hincrby(key, field, 1)
    pipe.expire(key, BUCKET_TTL_SECONDS)
    pipe.execute()


def read(redis: Any, prefix: str, *, now: float, seconds: int) -> list[Mapping[Any, Any]]:
    """The raw buckets of the ``seconds`` whole seconds before ``now`` (one round trip)."""
    last = int(now) - 1  # the current second is still filling
    pipe = redis.pipeline(transaction=False)
    for second in range(last - seconds + 1, last + 1):
        pipe.hgetall(bucket_key(prefix, second))
    return list(pipe.execute())


def summarize(
    buckets: Iterable[Mapping[Any, Any]], *, seconds: int, target_ms: int
) -> WindowFigures:
    """Add up raw buckets into the window's figures."""
    counts: dict[str, int] = {}
    for bucket in buckets:
        for field, value in bucket.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            counts[name] = counts.get(name, 0) + int(value)
    errors = counts.pop(ERROR_FIELD, 0)
    bands = _known_bands(counts)
    requests = sum(n for _, n in bands) + errors
    slow = errors + sum(n for bound, n in bands if bound > target_ms)
    return WindowFigures(
        seconds=seconds,
        requests=requests,
        errors=errors,
        slow=slow,
        p50_ms=_quantile(bands, errors, requests, 0.50),
        p99_ms=_quantile(bands, errors, requests, 0.99),
    )


def _known_bands(counts: Mapping[str, int]) -> list[tuple[float, int]]:
    """(upper bound in ms, count) for each band field, ``inf`` last; other fields ignored."""
    bands: list[tuple[float, int]] = []
    for name, n in counts.items():
        if name == "inf":
            bands.append((math.inf, n))
        elif name.startswith("le") and name[2:].isdigit():
            bands.append((float(name[2:]), n))
    return sorted(bands)


def _quantile(
    bands: Sequence[tuple[float, int]], errors: int, requests: int, q: float
) -> int | None:
    if not requests:
        return None
    rank = math.ceil(q * requests)
    seen = 0
    for bound, n in bands:
        seen += n
        if seen >= rank:
            return None if math.isinf(bound) else int(bound)
    return None  # within the errors: past every band
