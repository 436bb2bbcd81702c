"""Fault drills during a crowd (queue on): Redis restarted, PostgreSQL restarted, the RQ worker
SIGKILLed (a supervisor restarts it 5 s later), and an app server SIGKILLed. Behind nginx that
is the booking pool, which a supervisor restarts 5 s later (nginx has no second booking pool to
send residents to); without nginx, one of the two app servers, which stays down while the
generator fails over to the other, like a load balancer."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

from bench import analysis, loadgen, scenario
from bench.profiles import Profile
from bench.sinks import SmsSink, SmtpSink
from bench.stack import Stack
from bench.stats import arrival_times


def _faults(stack: Stack) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """name -> (fault, repair after the run)."""

    def restart_redis() -> None:
        stack.stop_redis()
        stack.start_redis()

    def restart_postgres() -> None:
        stack.stop_postgres()
        stack.start_postgres()

    def kill_worker() -> None:
        stack.stop_worker(signal.SIGKILL)
        time.sleep(5)
        stack.start_worker()

    def kill_app() -> None:
        stack.stop_app(0, signal.SIGKILL)

    def kill_booking_pool() -> None:
        stack.stop_app(1, signal.SIGKILL)
        time.sleep(5)
        stack.start_app(1)

    def nothing() -> None:
        pass

    def restart_app() -> None:
        stack.start_app(0)

    faults = {
        "Redis restarted": (restart_redis, nothing),
        "PostgreSQL restarted": (restart_postgres, nothing),
        "RQ worker SIGKILLed": (kill_worker, nothing),
    }
    if stack.proxy == "nginx":
        faults["booking pool SIGKILLed (restarted 5 s later)"] = (kill_booking_pool, nothing)
    else:
        faults["one of two app servers SIGKILLed"] = (kill_app, restart_app)
    return faults


def recovered_after(requests: list[Any], fault_s: float) -> float | None:
    """Seconds from the fault to the first success after the last error (0 with no error)."""
    window = analysis.error_window(requests, fault_s)
    if not window["errors"]:
        return 0.0
    last_error = fault_s + window["last_s"]
    later = [
        float(t)
        for t, _s, _l, status, _p in requests
        if float(t) > last_error and not analysis.is_error(str(status))
    ]
    return round(min(later) - fault_s, 2) if later else None


def run(
    stack: Stack, redis: Any, profile: Profile, smtp: SmtpSink, sms: SmsSink, capacity: int
) -> dict[str, Any]:
    """Every drill, each in a fresh crowd of its own."""
    arrivals = arrival_times(profile.drill_curve, profile.drill_s, seed=8)
    out: dict[str, Any] = {}
    for n, (name, (fault, repair)) in enumerate(_faults(stack).items()):
        print(f"drill: {name}", flush=True)
        scenario.prepare(stack, redis, smtp, sms, "always", profile)
        moments: dict[str, float] = {}

        async def during(
            fault: Callable[[], None] = fault, moments: dict[str, float] = moments
        ) -> dict[str, float]:
            await asyncio.sleep(profile.drill_at_s)
            moments["fault"] = time.monotonic()
            await asyncio.to_thread(fault)
            moments["restored"] = time.monotonic()
            return moments

        result = scenario.run(
            stack,
            arrivals,
            queue_on=True,
            behaviour=loadgen.Behaviour(),
            first_index=100_000 * (n + 1),
            during=during,
        )
        repair()
        worker = stack.procs.get("worker")
        result["worker_exit_code"] = None if worker is None else worker.poll()
        if worker is not None and worker.poll() is not None:
            # Like a supervisor (systemd Restart=always): a worker that died is started again.
            stack.start_worker()
        fault_s = moments["fault"] - result["start_monotonic"]
        requests = result["raw_requests"]
        result["fault_at_s"] = round(fault_s, 2)
        result["fault_took_s"] = round(moments["restored"] - moments["fault"], 2)
        result["errors_after_fault"] = analysis.error_window(requests, fault_s)
        result["recovered_s"] = recovered_after(requests, fault_s)
        result["failovers"] = sum(1 for r in requests if r[3] == "failover")
        result["correctness"] = scenario.correctness(stack, redis, result, smtp, sms, capacity)
        out[name] = result
    return out
