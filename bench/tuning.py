"""Self-tuning drills: the admission controller on, started 10x too high and 10x too low.

Each drill restarts the app servers with ``FAIRSLOT_QUEUE_AUTOTUNE`` on (bounds 1/20 and 20
times the profile's admission rate), sets the starting rate live, and runs a steady crowd of
its own. Every second it reads the controller's state from Redis (the rate in force, its last
decision and the window it saw); the booking steps' p99, as the generator measured it, is
taken per 5 s bin. ``--parts tuning`` runs only these (``python -m bench.run``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import loadgen, scenario
from bench.analysis import booking_p99_by_bin
from bench.profiles import Profile
from bench.sinks import SmsSink, SmtpSink
from bench.stack import Stack
from bench.stats import ArrivalCurve, arrival_times

CONTROL_KEY = f"{scenario.QUEUE_PREFIX}:control"
TARGET_MS = 500


def _restart_apps(stack: Stack, **env: str) -> None:
    stack.app_env.update(env)
    for index in range(len(stack.app_ports)):
        stack.stop_app(index)
    for index in range(len(stack.app_ports)):
        stack.start_app(index)


def _sample(redis: Any, t: float) -> dict[str, Any]:
    raw = {k.decode(): v.decode() for k, v in redis.hgetall(CONTROL_KEY).items()}
    return {
        "t": round(t, 1),
        "rate": round(float(raw["rate"]), 1) if raw.get("rate") else None,
        "decision": raw.get("decision"),
        "requests": int(raw["requests"]) if raw.get("requests") else None,
        "slow": int(raw["slow"]) if raw.get("slow") else None,
        "p99_ms": int(raw["p99_ms"]) if raw.get("p99_ms") else None,
    }


def run(stack: Stack, redis: Any, profile: Profile, smtp: SmtpSink, sms: SmsSink) -> dict[str, Any]:
    """Both drills; what each saw, second by second, and its summary."""
    seconds = profile.tuning_s
    reference = profile.admit_per_minute
    env = {
        "FAIRSLOT_QUEUE_AUTOTUNE": "true",
        "FAIRSLOT_QUEUE_ADMIT_MIN_PER_MINUTE": str(max(1, reference // 20)),
        "FAIRSLOT_QUEUE_ADMIT_MAX_PER_MINUTE": str(reference * 20),
        "FAIRSLOT_QUEUE_TARGET_P99_MS": str(TARGET_MS),
    }
    # A steady crowd well above what two cores book (about 10-20 a second), so a line forms in
    # both drills and the rate is what binds: at 20 a second the "too high" drill let everyone
    # straight in, cut once and then held, nobody waiting (the first attempt, 2026-12-07).
    curve = ArrivalCurve(base_rate=60.0, spike_factor=1, ramp_s=1, hold_s=seconds, decay_s=1)
    arrivals = arrival_times(curve, seconds, seed=21)
    out: dict[str, Any] = {"reference_per_minute": reference, "target_ms": TARGET_MS}
    try:
        for label, start in (("10x too high", reference * 10), ("10x too low", reference // 10)):
            print(f"tuning drill: {label} ({start} per minute)", flush=True)
            # Fresh app servers for each drill: the requests the last crowd left queued in the
            # pools would otherwise be served (slowly) in this drill's first seconds, and its
            # controller would cut on them (the "too low" drill of 2026-12-07 did, at 3 s).
            _restart_apps(stack, **env)
            scenario.prepare(stack, redis, smtp, sms, "always", profile)
            scenario.set_queue_mode(redis, "always", admit_per_minute=start, max_active=1_000_000)
            time.sleep(3)
            samples: list[dict[str, Any]] = []

            async def watch(samples: list[dict[str, Any]] = samples) -> dict[str, Any]:
                began = time.monotonic()
                while time.monotonic() - began < seconds:
                    samples.append(_sample(redis, time.monotonic() - began))
                    await asyncio.sleep(1.0)
                return {}

            result = scenario.run(
                stack,
                arrivals,
                queue_on=True,
                behaviour=loadgen.Behaviour(),
                during=watch,
                deadline_s=seconds + 15,  # those still in line then are let go: 10x too low
            )
            bins = booking_p99_by_bin(result["raw_requests"])
            rates = [s["rate"] for s in samples if s["rate"] is not None]
            half = len(bins) // 2
            out[label] = {
                "start_per_minute": start,
                "samples": samples,
                "bins": bins,
                "errors": result["errors"],
                "requests": result["requests"],
                "booked": result["outcomes"]["outcomes"].get("booked", 0),
                "steps": result["steps"],
                "cached": result["cached"],
                "rate_first": rates[0] if rates else None,
                "rate_last": rates[-1] if rates else None,
                "rate_min": min(rates, default=None),
                "rate_max": max(rates, default=None),
                "bins_over_target": sum(1 for b in bins if b["p99_ms"] > TARGET_MS),
                "bins_over_target_second_half": sum(
                    1 for b in bins[half:] if b["p99_ms"] > TARGET_MS
                ),
            }
    finally:
        for key in (
            "FAIRSLOT_QUEUE_AUTOTUNE",
            "FAIRSLOT_QUEUE_ADMIT_MIN_PER_MINUTE",
            "FAIRSLOT_QUEUE_ADMIT_MAX_PER_MINUTE",
            "FAIRSLOT_QUEUE_TARGET_P99_MS",
        ):
            stack.app_env.pop(key, None)
    return out
