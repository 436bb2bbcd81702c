"""Admission that tunes itself: the admission rate follows the booking path's own latency.

The controller is TCP's congestion control applied to admissions (AIMD with a slow start):

* **Cut** (multiplicative decrease, x0.7 as in CUBIC) as soon as more than 1% of booking
  requests in the window were slower than the target or failed (the target is a p99), then
  wait one whole window before cutting again: the window still holds requests served before
  the cut, and cutting on them again would drive the rate to the floor for one bad moment.
  (Halving every time, as TCP Reno does, came down from 10x faster in the simulation of
  tests/admission/test_control.py but undershot so far below capacity, since the load answers
  a cut only over the funnel's length, that the additive climb back took minutes.)
* **Cut from what was admitted**: when fewer people arrived than the rate allowed, the rate
  was not what loaded the path, and cutting it changes nothing (a rate 10x too high took four
  cuts, 40 s, before the first one bound, in the benchmark of 2026-12-07). So a cut starts
  from the admissions the window actually saw when they were fewer, as TCP's ssthresh starts
  from the data in flight, not from the window (RFC 5681).
* **Slow start** (x1.25 a step) until the first cut: a rate set 10x too low reaches the
  machine's capacity in about ten steps instead of the hundreds an additive step would need.
  (x1.5, and a x0.5 cut when most of the window was slow, were tried in the simulation: with
  the load lagging the rate by the funnel's length, the first overshot 2.6x and the second
  undershot to a quarter of capacity.)
* **Probe** (additive increase, +5% of the rate at the last cut a step) after a cut: the rate
  where the path last got slow is the best estimate of capacity, so approach it gently.
* **Hold** when nobody is waiting: the rate is not what limits admission then, and raising it
  on an idle path would leave it far too high when a crowd arrives (TCP's cwnd validation).
  Likewise when people wait but no booking request came in the window (admission paused or
  off, or the path down): there is no evidence that more would be served in time.

Its inputs are the booking path's figures over a sliding window (``admission.health``) and the
length of the line; its output is the admissions per minute the queue's scripts use, within
the configured bounds. An admin's pin replaces it. ``step`` is a pure function of its inputs
and the time passed in, so the tests drive it with a simulated clock.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, replace
from typing import Any

from admission import health
from admission.health import WindowFigures

SLOW_BUDGET = 0.01  # the target is a p99: at most 1% of requests slower
MIN_SLOW = 2  # a single slow request (a GC pause, a cold cache) is not a trend
CUT = 0.7
SLOW_START = 1.25
PROBE = 0.05
PIN_LIMIT = 1_000_000


class Decision(enum.StrEnum):
    """What the last step did, and why (shown to admins)."""

    START = "start"
    SLOW_START = "slow_start"
    PROBE = "probe"
    CUT = "cut"
    RECOVERING = "recovering"  # too slow, but the last cut has not had a window to show
    NO_DEMAND = "no_demand"
    NO_TRAFFIC = "no_traffic"  # no booking requests in the window: nothing to judge by
    AT_BOUND = "at_bound"
    PINNED = "pinned"


@dataclass(frozen=True)
class ControlConfig:
    """The controller's bounds and target (from FAIRSLOT_QUEUE_* settings)."""

    enabled: bool = False
    min_per_minute: int = 30
    max_per_minute: int = 3000
    target_ms: int = 500
    step_seconds: int = 5
    window_seconds: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.min_per_minute <= self.max_per_minute:
            raise ValueError("the admission bounds need 1 <= minimum <= maximum")
        if self.target_ms < 1 or self.step_seconds < 1 or self.window_seconds < self.step_seconds:
            raise ValueError("target, step and window must be positive, the window >= the step")

    def clamp(self, rate: float) -> float:
        """``rate`` within the bounds."""
        return min(float(self.max_per_minute), max(float(self.min_per_minute), rate))


@dataclass(frozen=True)
class ControlState:
    """The controller's memory between steps (kept in one Redis hash)."""

    rate: float  # admissions per minute
    threshold: float | None  # the rate at the last cut; below it (or before any) slow start
    stepped_at: float
    cut_at: float | None
    decision: Decision
    figures: WindowFigures | None

    @classmethod
    def initial(cls, start_per_minute: int, config: ControlConfig, now: float) -> ControlState:
        """The state before any step: the configured rate, within the bounds."""
        return cls(config.clamp(start_per_minute), None, now, None, Decision.START, None)


def too_slow(figures: WindowFigures) -> bool:
    """More than 1% of the window's requests (and at least two) slower than target or failed."""
    return figures.slow >= MIN_SLOW and figures.slow > SLOW_BUDGET * figures.requests


def cut_rate(state: ControlState, admitted_per_minute: float | None) -> float:
    """The rate a cut leads to, before the bounds: from the rate, or from what was admitted."""
    basis = state.rate
    if admitted_per_minute is not None and 0 < admitted_per_minute < basis:
        basis = admitted_per_minute
    return basis * CUT


def step(
    state: ControlState,
    figures: WindowFigures,
    *,
    waiting: int,
    now: float,
    config: ControlConfig,
    admitted_per_minute: float | None = None,
) -> ControlState:
    """The next state from the window's figures, the line's length and the admissions seen."""
    moved = replace(state, stepped_at=now, figures=figures)
    if too_slow(figures):
        if state.cut_at is not None and now - state.cut_at < config.window_seconds:
            return replace(moved, decision=Decision.RECOVERING)
        rate = config.clamp(cut_rate(state, admitted_per_minute))
        return replace(moved, rate=rate, threshold=rate, cut_at=now, decision=Decision.CUT)
    if waiting <= 0:
        return replace(moved, decision=Decision.NO_DEMAND)
    if figures.requests == 0:
        # People wait but nobody books: admission is paused or off, or the path is down.
        return replace(moved, decision=Decision.NO_TRAFFIC)
    if state.rate >= config.max_per_minute:
        return replace(moved, rate=float(config.max_per_minute), decision=Decision.AT_BOUND)
    if state.threshold is None or state.rate < state.threshold:
        return replace(
            moved, rate=config.clamp(state.rate * SLOW_START), decision=Decision.SLOW_START
        )
    rate = config.clamp(state.rate + max(1.0, PROBE * state.threshold))
    return replace(moved, rate=rate, decision=Decision.PROBE)


@dataclass(frozen=True)
class ControlView:
    """What admins see: the rate in force, who set it, and the controller's last step."""

    enabled: bool
    rate: int
    pinned: int | None
    state: ControlState | None
    config: ControlConfig


class AdmissionControl:
    """The controller's state in Redis, stepped by whichever app process gets there first.

    Every process reads the state at most once per ``cache_seconds``; once a step is due, one
    process (a per-step ``SET NX`` key) reads the window and the line and writes the next
    state. An admin's pin lives in a key of its own, which no step writes.
    """

    def __init__(
        self, redis: Any, prefix: str, config: ControlConfig, *, cache_seconds: float = 1.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.config = config
        self._state_key = f"{prefix}:control"
        self._pin_key = f"{prefix}:control_pin"
        self._waiting_key = f"{prefix}:waiting"
        self._admit_log_key = f"{prefix}:admit_log"  # the queue's, the last minute's admissions
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, ControlState | None, int | None] | None = None
        self._lost_step: int | None = None  # a step period another process claimed

    def rate(self, start_per_minute: int, *, now: float) -> int:
        """The admissions per minute in force now, stepping the controller when a step is due."""
        if not self.config.enabled:
            return start_per_minute
        state, pinned = self._read()
        if pinned is not None:
            return pinned
        if state is None or now - state.stepped_at >= self.config.step_seconds:
            state = self._step(state, start_per_minute, now) or state
        if state is None:
            state = ControlState.initial(start_per_minute, self.config, now)
        return max(1, math.floor(state.rate))

    def view(self, start_per_minute: int, *, now: float) -> ControlView:
        """The controller as admins see it (read fresh)."""
        self._cached = None
        rate = self.rate(start_per_minute, now=now)  # may step: read the state after it
        state, pinned = self._read()
        return ControlView(self.config.enabled, rate, pinned, state, self.config)

    def pin(self, per_minute: int) -> None:
        """Fix the admission rate until unpinned (every process follows within a second)."""
        if not 1 <= per_minute <= PIN_LIMIT:
            raise ValueError(f"a pinned rate must be from 1 to {PIN_LIMIT:,} per minute")
        self.redis.set(self._pin_key, int(per_minute))
        self._cached = None

    def restart(self) -> None:
        """Forget the controller's state: its next step starts again from the configured rate."""
        self.redis.delete(self._state_key)
        self._cached = None

    def unpin(self) -> None:
        """Hand the rate back to the controller, from where it last was."""
        self.redis.delete(self._pin_key)
        self._cached = None

    def _read(self) -> tuple[ControlState | None, int | None]:
        cached = self._cached
        if cached and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1], cached[2]
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._state_key)
        pipe.get(self._pin_key)
        raw, pin = pipe.execute()
        state = decode_state(raw)
        pinned = int(pin) if pin is not None else None
        self._cached = (time.monotonic(), state, pinned)
        return state, pinned

    def _step(
        self, state: ControlState | None, start_per_minute: int, now: float
    ) -> ControlState | None:
        period = math.floor(now / self.config.step_seconds)
        if period == self._lost_step:
            return None  # asked already: no second round trip per poll until the cache renews
        claim = f"{self.prefix}:control_step:{period}"
        if not self.redis.set(claim, 1, nx=True, ex=self.config.step_seconds * 4):
            self._lost_step = period  # another process takes this step
            return None
        seconds = self.config.window_seconds
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._state_key)  # fresh: another process may have stepped since our read
        pipe.zcard(self._waiting_key)
        pipe.zcount(self._admit_log_key, now - seconds, "+inf")
        raw, waiting, admitted = pipe.execute()
        buckets = health.read(self.redis, self.prefix, now=now, seconds=seconds)
        figures = health.summarize(buckets, seconds=seconds, target_ms=self.config.target_ms)
        current = decode_state(raw) or state
        if current is None:
            current = ControlState.initial(start_per_minute, self.config, now)
        nxt = step(
            current,
            figures,
            waiting=int(waiting),
            now=now,
            config=self.config,
            admitted_per_minute=int(admitted) * 60 / seconds,
        )
        self.redis.hset(self._state_key, mapping=encode_state(nxt))
        self._cached = (time.monotonic(), nxt, None)
        return nxt


_FIGURES = ("requests", "errors", "slow", "p50_ms", "p99_ms")


def encode_state(state: ControlState) -> dict[str, str]:
    """The state as a flat Redis hash."""
    out = {
        "rate": repr(state.rate),
        "threshold": "" if state.threshold is None else repr(state.threshold),
        "stepped_at": repr(state.stepped_at),
        "cut_at": "" if state.cut_at is None else repr(state.cut_at),
        "decision": str(state.decision),
    }
    if state.figures is not None:
        out["seconds"] = str(state.figures.seconds)
        for name in _FIGURES:
            value = getattr(state.figures, name)
            out[name] = "" if value is None else str(value)
    return out


def decode_state(raw: Any) -> ControlState | None:
    """The state from its Redis hash, or None if there is none (or it cannot be read)."""
    if not raw:
        return None
    fields = {_text(k): _text(v) for k, v in raw.items()}
    try:
        figures = None
        if "seconds" in fields:
            figures = WindowFigures(
                int(fields["seconds"]),
                *(int(fields[n]) if fields.get(n) else None for n in _FIGURES),  # type: ignore[arg-type]
            )
        return ControlState(
            rate=float(fields["rate"]),
            threshold=float(fields["threshold"]) if fields.get("threshold") else None,
            stepped_at=float(fields["stepped_at"]),
            cut_at=float(fields["cut_at"]) if fields.get("cut_at") else None,
            decision=Decision(fields["decision"]),
            figures=figures,
        )
    except (KeyError, ValueError):
        return None  # a state from another version: start afresh rather than fail admission


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
