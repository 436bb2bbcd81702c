"""The pool split side by side: the same queue-on crowd behind nginx with each split.

Behind nginx the workers are split between the waiting-room pool (joins, polls) and the booking
pool (search and every booking step). For each (waiting, booking) split this restarts both
gunicorn pools with those workers (nginx keeps running: its upstreams are the same ports), runs
the profile's 140/s crowd with the queue on, and checks it as the crowd part does; then it puts
the run's own split back for the parts after it. ``--parts pools --pools 1,3 --pools 2,2``.
"""

from __future__ import annotations

from typing import Any

from bench import loadgen, scenario
from bench.profiles import Profile
from bench.sinks import SmsSink, SmtpSink
from bench.stack import Stack
from bench.stats import arrival_times


def restart_pools(stack: Stack, split: tuple[int, ...]) -> None:
    """Both gunicorn pools stopped and started again with ``split`` workers."""
    for index in range(len(stack.app_ports)):
        stack.stop_app(index)
    stack.pool_workers = tuple(split)
    for index in range(len(stack.app_ports)):
        stack.start_app(index)


def run(
    stack: Stack,
    redis: Any,
    profile: Profile,
    smtp: SmtpSink,
    sms: SmsSink,
    capacity: int,
    splits: list[tuple[int, int]] | tuple[tuple[int, int], ...],
) -> dict[str, Any]:
    """The crowd with each split, one after the other; the figures of each, keyed "W + B"."""
    arrivals = arrival_times(profile.curve, profile.crowd_s)
    own = stack.pool_workers
    out: dict[str, Any] = {"arrivals": len(arrivals), "splits": {}}
    try:
        for split in splits:
            restart_pools(stack, split)
            name = f"{split[0]} + {split[1]}"
            scenario.prepare(stack, redis, smtp, sms, "always", profile)
            print(f"pools {name}: {len(arrivals)} residents, queue on", flush=True)
            result = scenario.run(stack, arrivals, queue_on=True, behaviour=loadgen.Behaviour())
            result["correctness"] = scenario.correctness(stack, redis, result, smtp, sms, capacity)
            out["splits"][name] = result
    finally:
        restart_pools(stack, own)
    return out
