"""Run the benchmark: ``python -m bench.run --profile quick`` (what ``make bench`` does).

Starts its own stack (bench.stack), runs the flash crowd with the queue off and on at the same
arrival curve, the ceilings, the scale runs and the fault drills, then writes
bench/results/<date>/ (report.md, summary.json, raw/, charts). Everything it started is stopped
at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import subprocess
import sys
import traceback
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    ceilings,
    data,
    drills,
    failover_postgres,
    failover_redis,
    loadgen,
    nginx,
    pools,
    report,
    scale,
    scenario,
    tuning,
)
from bench.profiles import ALL_PARTS, PROFILES, Profile
from bench.sinks import SmsSink, SmtpSink
from bench.stack import ROOT, Stack, make_workdir, remove_workdir
from bench.stats import ArrivalCurve, arrival_times

SMTP_PORT, SMS_PORT = 28025, 28026


def machine() -> dict[str, Any]:
    """The machine the run is on: cores, CPU model, memory, load when it started."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "postgres": subprocess.run(
            ["psql", "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "redis": subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True
        ).stdout.strip()[:40],
    }


def app_env(profile: Profile, smtp: SmtpSink, sms: SmsSink) -> dict[str, str]:
    """Production settings for the bench; hCaptcha stays off (no keys), as in the tests."""
    return {
        "FAIRSLOT_ENV": "production",
        "FAIRSLOT_SECRET_KEY": secrets.token_urlsafe(32),
        "FAIRSLOT_PUBLIC_URL": "http://127.0.0.1:28001",
        "FAIRSLOT_PRIVATE_NETWORK": "true",  # production settings on loopback
        "FAIRSLOT_SESSION_COOKIE_SECURE": "false",
        "FAIRSLOT_PROXY_COUNT": "1",  # each virtual resident has its own X-Forwarded-For address
        "FAIRSLOT_QUEUE_MODE": "always",
        "FAIRSLOT_QUEUE_MAX_ACTIVE": str(profile.max_active),
        "FAIRSLOT_QUEUE_ADMIT_PER_MINUTE": str(profile.admit_per_minute),
        "FAIRSLOT_QUEUE_IDLE_MINUTES": str(profile.idle_minutes),
        "FAIRSLOT_HOUSEKEEPING_SECONDS": "5",
        "FAIRSLOT_MESSAGE_RETRY_SECONDS": "2",
        "FAIRSLOT_MESSAGE_LEASE_SECONDS": "20",
        "FAIRSLOT_SMTP_HOST": "127.0.0.1",
        "FAIRSLOT_SMTP_PORT": str(smtp.port),
        "FAIRSLOT_SMTP_SECURITY": "none",
        "FAIRSLOT_SMS_API_URL": sms.url,
        "FAIRSLOT_SMS_ACCOUNT_SID": "AC1",
        "FAIRSLOT_SMS_AUTH_TOKEN": "bench-token",
        "FAIRSLOT_SMS_FROM": "+16175550000",
    }


def layout(profile: Profile, proxy: str) -> dict[str, Any]:
    """What serves the crowd: nginx and its two pools, or two app servers side by side."""
    if proxy == "none":
        return {"proxy": "none", "app_servers": 2, "workers_each": profile.workers}
    total = 2 * profile.workers
    waiting, booking = nginx.pool_split(total, profile.waiting_workers, profile.booking_workers)
    return {
        "proxy": "nginx",
        "nginx": nginx.version(),
        "waiting_workers": waiting,
        "booking_workers": booking,
    }


def crowd_pair(
    stack: Stack, redis: Any, profile: Profile, smtp: SmtpSink, sms: SmsSink, capacity: int
) -> dict[str, Any]:
    """Queue off, then queue on, at the same arrival curve (same seed: the same people)."""
    arrivals = arrival_times(profile.curve, profile.crowd_s)
    out: dict[str, Any] = {"arrivals": len(arrivals), "curve": asdict(profile.curve)}
    for label, on in (("off", False), ("on", True)):
        scenario.prepare(stack, redis, smtp, sms, "always" if on else "off", profile)
        print(f"crowd, queue {label}: {len(arrivals)} residents", flush=True)
        result = scenario.run(stack, arrivals, queue_on=on, behaviour=loadgen.Behaviour())
        result["correctness"] = scenario.correctness(stack, redis, result, smtp, sms, capacity)
        out[label] = result
    # Issue 21's second crowd: the spike twice as steep (280/s), queue on only (with it off the
    # 140/s crowd already times out), for the same places.
    steep = replace(profile.curve, spike_factor=profile.high_spike_factor)
    arrivals = arrival_times(steep, profile.crowd_s)
    out["high"] = {"arrivals": len(arrivals), "spike_per_s": _spike(steep), "curve": asdict(steep)}
    scenario.prepare(stack, redis, smtp, sms, "always", profile)
    print(f"crowd, queue on, {_spike(steep):g}/s: {len(arrivals)} residents", flush=True)
    result = scenario.run(stack, arrivals, queue_on=True, behaviour=loadgen.Behaviour())
    result["correctness"] = scenario.correctness(stack, redis, result, smtp, sms, capacity)
    out["on_high"] = result
    return out


def _spike(curve: ArrivalCurve) -> float:
    return curve.base_rate * curve.spike_factor


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write its results directory."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--parts",
        default=None,
        help="comma-separated parts to run, of: " + ",".join(ALL_PARTS) + " (default: the "
        "profile's parts)",
    )
    parser.add_argument(
        "--pools",
        action="append",
        metavar="WAITING,BOOKING",
        help="a pool split the pools part measures (repeat it: --pools 1,3 --pools 2,2); "
        "default: the profile's",
    )
    parser.add_argument(
        "--port-offset",
        type=int,
        default=0,
        help="move the bench's PostgreSQL and Redis off 25432/26379 (beside a bench.micro run)",
    )
    parser.add_argument(
        "--fast-polls",
        choices=["on", "off"],
        default="on",
        help="FAIRSLOT_FAST_POLLS for the app servers (off: Flask answers every poll)",
    )
    parser.add_argument(
        "--availability-max-age",
        type=int,
        default=None,
        metavar="SECONDS",
        help="FAIRSLOT_AVAILABILITY_MAX_AGE for the app servers (0: nginx caches no search; "
        "default: the app's own, 2)",
    )
    parser.add_argument(
        "--proxy",
        choices=["nginx", "none"],
        default="nginx",
        help="nginx: the shipped site in front of a waiting-room and a booking pool; "
        "none: two app servers, the generator spreading users over both",
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    served = layout(profile, args.proxy)
    parts = set((args.parts or ",".join(profile.parts)).split(","))
    if parts - set(ALL_PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(ALL_PARTS)))}")
    try:
        splits = [nginx.parse_split(t) for t in args.pools] if args.pools else profile.pool_splits
    except ValueError as exc:
        parser.error(str(exc))
    if "pools" in parts and args.proxy != "nginx":
        parser.error("the pools part needs --proxy nginx (the pools are nginx's upstreams)")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    suffix = "" if profile.name == "quick" else f"-{profile.name}"
    out = args.out or ROOT / "bench" / "results" / f"{stamp}{suffix}"
    signal.signal(signal.SIGTERM, _terminate)

    import redis as redis_lib

    smtp, sms = SmtpSink(SMTP_PORT), SmsSink(SMS_PORT)
    workdir = make_workdir()
    stack = Stack(
        workdir,
        pg_port=25432 + args.port_offset,
        redis_port=26379 + args.port_offset,
        workers=profile.workers,
        worker_class=profile.worker_class,
        proxy=args.proxy,
        pool_workers=(
            (served["waiting_workers"], served["booking_workers"]) if args.proxy == "nginx" else ()
        ),
    )
    stack.app_env = app_env(profile, smtp, sms)
    if args.proxy == "nginx":
        # The generator stands in for the load balancer in front of nginx: it sends each
        # resident's address in X-Forwarded-For and nginx appends its own client (loopback), so
        # the app counts two proxies, as the shipped config says to when one is in front.
        stack.app_env["FAIRSLOT_PROXY_COUNT"] = "2"
        stack.app_env["FAIRSLOT_TRUST_REQUEST_START"] = "true"
    stack.app_env["FAIRSLOT_FAST_POLLS"] = "true" if args.fast_polls == "on" else "false"
    if args.availability_max_age is not None:
        stack.app_env["FAIRSLOT_AVAILABILITY_MAX_AGE"] = str(args.availability_max_age)
        served["availability_max_age"] = args.availability_max_age
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "profile": asdict(profile),
        "layout": served,
    }
    try:
        smtp.start()
        sms.start()
        stack.init_postgres()
        stack.start_postgres()
        stack.psql("CREATE DATABASE fairslot", db="postgres")
        stack.start_redis()
        stack.flask("migrate")
        capacity = data.crowd_data(
            stack,
            clinics=profile.crowd_clinics,
            per_day=profile.slots_per_clinic,
            capacity=profile.slot_capacity,
        )
        for index in range(len(stack.app_ports)):
            stack.start_app(index)
        if args.proxy == "nginx":
            stack.start_proxy()
        stack.start_worker()
        pool = redis_lib.BlockingConnectionPool.from_url(stack.redis_url, max_connections=20)
        redis = redis_lib.Redis(connection_pool=pool)
        if "crowd" in parts:
            results["crowd"] = crowd_pair(stack, redis, profile, smtp, sms, capacity)
        if "ceilings" in parts:
            results["ceilings"] = ceilings.run(stack, redis, profile)
        if "drills" in parts:
            results["drills"] = drills.run(stack, redis, profile, smtp, sms, capacity)
        if "scale" in parts:
            results["scale"] = scale.run(stack, redis, profile)
        if "pools" in parts:  # restarts the app servers with each split, then the default one
            results["pools"] = pools.run(stack, redis, profile, smtp, sms, capacity, splits)
        if "failover_redis" in parts:
            # Its own Redis set (primary, replica, sentinels) and a scratch database on ours.
            server = stack.database_url.rsplit("/", 1)[0]
            drill = failover_redis.options(
                ["--database-url", f"{server}/postgres", *profile.failover_args]
            )
            results["failover_redis"] = failover_redis.run(drill)
        if "failover_postgres" in parts:
            # Two clusters of its own (a primary and its replica), beside the bench's.
            results["failover_postgres"] = failover_postgres.run(
                failover_postgres.options(list(profile.failover_args))
            )
        if "tuning" in parts:  # last: it restarts the app servers with the controller on
            results["tuning"] = tuning.run(stack, redis, profile, smtp, sms)
    except KeyboardInterrupt:
        print("interrupted: stopping everything the bench started", file=sys.stderr)
        results["interrupted"] = True
    except Exception as exc:  # noqa: BLE001 - report what was measured, and why it stopped
        traceback.print_exc()
        results["failed"] = f"{type(exc).__name__}: {exc}"
    finally:
        smtp.stop()
        sms.stop()
        stack.stop()
        logs = {p.name: p.read_text(errors="replace")[-30000:] for p in workdir.glob("*.log")}
        remove_workdir(workdir)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report.write(out, results, logs)
    print(f"results in {out}")
    return 1 if results.get("failed") or results.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
