"""Scale: search and slot-listing latency at 10k/100k/1M slots, queue-status cost at
1k/100k/1M people waiting (inserted with the admission package's own JOIN script, pipelined)."""

from __future__ import annotations

import random
import secrets
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from typing import Any

from admission import scripts
from admission.queue import TICKET_TTL_SECONDS, AdmissionQueue
from admission.settings import QueueSettings
from bench import data, scenario
from bench.profiles import Profile
from bench.stack import Stack
from bench.stats import percentile

BATCH = 5000


def _timed_get(url: str, headers: dict[str, str] | None = None) -> float | None:
    request = urllib.request.Request(url, headers=headers or {})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except (urllib.error.URLError, TimeoutError):
        return None
    return (time.perf_counter() - t0) * 1000


def _p(values: list[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else round(value, 1)


def client_address(stack: Stack, address: str) -> str:
    """``X-Forwarded-For`` for a request straight to a pool: behind nginx the app counts two
    proxies (the generator and nginx), so the entry nginx would have appended is added."""
    return f"{address}, 127.0.0.1" if stack.proxy == "nginx" else address


def slots_scale(stack: Stack, profile: Profile) -> list[dict[str, Any]]:
    """Latency of search and slot listing as the slot table grows (sequential requests)."""
    data.add_clinics(stack, 1000, spread_deg=1.5, prefix="scale")
    # The booking pool itself: through nginx, every sample after the first would be answered
    # from its cache of the same search (0.5 ms at any size, in the quick runs 2 and 3 of
    # 2026-12-07).
    base = f"http://127.0.0.1:{stack.booking_port}/api/v1"
    ids = [int(x) for x in stack.psql("SELECT id FROM clinic WHERE key LIKE 'scale-%'").split()]
    rows = []
    for target in profile.scale_slots:
        stack.psql(
            "DELETE FROM slot WHERE clinic_id IN (SELECT id FROM clinic WHERE key LIKE 'scale-%')"
        )
        days, per_day = data.scale_layout(target)
        t0 = time.monotonic()
        count = data.add_slots(stack, prefix="scale", days=days, per_day=per_day, capacity=5)
        load_s = time.monotonic() - t0
        total = int(stack.psql("SELECT count(*) FROM slot"))
        search, listing = [], []
        for i in range(profile.scale_samples):
            headers = {"X-Forwarded-For": client_address(stack, f"10.250.{i >> 8}.{i & 255}")}
            ms = _timed_get(f"{base}/clinics?zip={data.SEARCH_ZIP}&radius_miles=10", headers)
            if ms is not None:
                search.append(ms)
            day = date.today() + timedelta(days=1 + i % days)
            ms = _timed_get(f"{base}/clinics/{random.choice(ids)}/slots?date={day}", headers)
            if ms is not None:
                listing.append(ms)
        rows.append(
            {
                "slots": total,
                "scale_slots": count,
                "per_clinic": days * per_day,
                "load_s": round(load_s, 1),
                "search_p50_ms": _p(search, 50),
                "search_p95_ms": _p(search, 95),
                "slots_p50_ms": _p(listing, 50),
                "slots_p95_ms": _p(listing, 95),
            }
        )
        print(f"scale: {total} slots", flush=True)
    remove_scale_clinics(stack)
    return rows


def remove_scale_clinics(stack: Stack) -> None:
    """Take the scale clinics and their slots out again: the parts after this one (pool
    splits, tuning) check that the crowd sells out exactly the crowd's own places."""
    scale = "SELECT id FROM clinic WHERE key LIKE 'scale-%'"
    stack.psql(f"DELETE FROM slot WHERE clinic_id IN ({scale})")
    for table in ("slot_day_delta", "slot_day_count"):
        stack.psql(f"DELETE FROM {table} WHERE clinic_id IN ({scale})")
    stack.psql("DELETE FROM clinic WHERE key LIKE 'scale-%'")


def fill_line(redis: Any, count: int) -> str:
    """Put ``count`` people in line with the JOIN script (nobody admitted); return the last."""
    queue = AdmissionQueue(redis, QueueSettings(mode="always"))
    join = redis.register_script(scripts.JOIN)
    ticket = ""
    done = 0
    while done < count:
        pipe = redis.pipeline(transaction=False)
        now = time.time()
        for _ in range(min(BATCH, count - done)):
            ticket = secrets.token_urlsafe(16)
            join(
                keys=queue.keys,  # the queue's own key layout
                args=[
                    queue.prefix,
                    ticket,
                    repr(now),
                    "fifo",
                    "0",
                    TICKET_TTL_SECONDS,
                    "api",
                    3600,
                    1,
                    0,
                    0,
                ],
                client=pipe,
            )
        pipe.execute()
        done += BATCH
    return ticket


def waiting_scale(stack: Stack, redis: Any, profile: Profile) -> list[dict[str, Any]]:
    """Cost of one queue-status poll with 1k, 100k (and 1M) people waiting."""
    base = f"http://127.0.0.1:{stack.front_ports[0]}/api/v1/queue/tickets"
    rows = []
    for count in profile.scale_waiting:
        scenario.reset_queue(redis)
        scenario.set_queue_mode(redis, "always", admit_per_minute=1, max_active=1, idle_minutes=60)
        before = int(redis.info("memory")["used_memory"])
        t0 = time.monotonic()
        last = fill_line(redis, count)
        fill_s = time.monotonic() - t0
        time.sleep(2.5)  # the apps' settings cache
        queue = AdmissionQueue(redis, QueueSettings(mode="always", idle_minutes=60))
        script_us, http_ms = [], []
        for i in range(profile.scale_samples):
            t1 = time.perf_counter()
            queue.poll(last, now=time.time())
            script_us.append((time.perf_counter() - t1) * 1e6)
            ms = _timed_get(f"{base}/{last}", {"X-Forwarded-For": f"10.251.{i >> 8}.{i & 255}"})
            if ms is not None:
                http_ms.append(ms)
        rows.append(
            {
                "waiting": count,
                "fill_s": round(fill_s, 1),
                "http_p50_ms": _p(http_ms, 50),
                "http_p95_ms": _p(http_ms, 95),
                "script_p50_us": _p(script_us, 50),
                "script_p95_us": _p(script_us, 95),
                "redis_used_memory_mb": round(int(redis.info("memory")["used_memory"]) / 2**20),
                # What the line itself costs: used memory after the fill less before it (the
                # empty queue), per person; the samples above add nothing lasting.
                "redis_bytes_per_waiting": round(
                    (int(redis.info("memory")["used_memory"]) - before) / count
                ),
            }
        )
        print(f"scale: {count} waiting", flush=True)
    scenario.reset_queue(redis)
    return rows


def run(stack: Stack, redis: Any, profile: Profile) -> dict[str, Any]:
    """Both scale series."""
    return {
        "waiting": waiting_scale(stack, redis, profile),
        "slots": slots_scale(stack, profile),
        "note": (
            "Sequential requests (one at a time) on an otherwise idle stack; slots are 1,000 "
            "clinics across Massachusetts, each with the same number of slots over up to 14 "
            "days; the search covers a 10-mile radius around ZIP 02115. The POLL script column "
            "is one `AdmissionQueue.poll` from Python including the Redis round trip."
        ),
    }
