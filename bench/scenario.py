"""One flash-crowd scenario against the running stack, and the correctness checks after it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from bench import analysis, data, loadgen
from bench.profiles import Profile
from bench.sinks import SmsSink, SmtpSink
from bench.stack import Stack
from bench.stats import kendall_tau

QUEUE_PREFIX = "{fairslot:queue}"


def set_queue_mode(redis: Any, mode: str, **extra: Any) -> None:
    """Switch the queue live, as an admin would (every app process sees it within seconds)."""
    redis.hset(f"{QUEUE_PREFIX}:settings", mapping={"mode": mode, **extra})


def reset_queue(redis: Any) -> None:
    """Empty the line and the counters between scenarios (settings overrides kept)."""
    keys = [k for k in redis.scan_iter(match=f"{QUEUE_PREFIX}:*", count=5000)]
    keys = [k for k in keys if not k.endswith(b":settings")]
    for start in range(0, len(keys), 5000):
        redis.delete(*keys[start : start + 5000])
    for key in redis.scan_iter(match="fairslot*LIMITER*", count=5000):
        redis.delete(key)
    # The previous scenario's jobs point at messages reset_bookings deleted: a worker would
    # spend the next scenario working through them ("no such message").
    from rq import Queue

    from booking.jobs.handoff import DRAIN_FLAG, HANDOFF_KEY
    from booking.jobs.queue import QUEUE_NAME

    jobs = Queue(QUEUE_NAME, connection=redis)
    jobs.empty()
    redis.delete(HANDOFF_KEY, DRAIN_FLAG)  # ids handed off but not yet drained, the same way
    for job_id in jobs.scheduled_job_registry.get_job_ids():
        jobs.scheduled_job_registry.remove(job_id, delete_job=True)


def queue_settings(profile: Profile) -> dict[str, Any]:
    """The live queue settings of the queue-on scenario."""
    return {
        "max_active": profile.max_active,
        "admit_per_minute": profile.admit_per_minute,
        "idle_minutes": profile.idle_minutes,
    }


def prepare(
    stack: Stack, redis: Any, smtp: SmtpSink, sms: SmsSink, mode: str, profile: Profile
) -> None:
    """Fresh inventory, an empty line, empty sinks, and the queue mode for the next scenario."""
    data.reset_bookings(stack)
    reset_queue(redis)
    smtp.clear()
    sms.clear()
    set_queue_mode(redis, mode, **queue_settings(profile))
    time.sleep(3)  # the app caches live settings for 2 s


def run(
    stack: Stack,
    arrivals: list[float],
    *,
    queue_on: bool,
    behaviour: loadgen.Behaviour,
    first_index: int = 0,
    during: Any = None,
    deadline_s: float = 600.0,
) -> dict[str, Any]:
    """Run the crowd; ``during`` is an optional coroutine function run alongside (a drill)."""

    async def both() -> tuple[loadgen.Crowd, dict[str, float], Any]:
        crowd_task = asyncio.create_task(
            loadgen.run_crowd(
                stack.front_ports,
                arrivals,
                queue_on=queue_on,
                behaviour=behaviour,
                first_index=first_index,
                deadline_s=deadline_s,
            )
        )
        drill = await during() if during is not None else None
        crowd, cpu = await crowd_task
        return crowd, cpu, drill

    crowd, cpu, drill = asyncio.run(both())
    residents = [asdict(r) for r in crowd.residents]
    return {
        "queue_on": queue_on,
        "steps": analysis.step_table(crowd.requests),
        "statuses": analysis.status_counts(crowd.requests),
        "errors": sum(1 for r in crowd.requests if analysis.is_error(str(r[3]))),
        "requests": len(crowd.requests),
        "outcomes": analysis.outcome_figures(residents),
        "generator_cpu": cpu,
        "cached": dict(crowd.cached),
        "start_monotonic": crowd.start,
        "drill": drill,
        "raw_requests": crowd.requests,
        "raw_residents": residents,
    }


def wait_for_messages(stack: Stack, timeout_s: float = 120.0) -> float:
    """Wait until no confirmation is left queued or sending; return how long it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        left = int(
            stack.psql(
                "SELECT count(*) FROM outbox_message WHERE kind = 'confirmation' "
                "AND status IN ('queued', 'sending')"
            )
        )
        if left == 0:
            return time.monotonic() - start
        time.sleep(1)
    return time.monotonic() - start


def correctness(
    stack: Stack,
    redis: Any,
    result: dict[str, Any],
    smtp: SmtpSink,
    sms: SmsSink,
    capacity: int,
) -> dict[str, Any]:
    """Double bookings, exact sell-out, lost acknowledgements, messages, admission order."""
    residents = result["raw_residents"]
    q = stack.psql
    overbooked = int(q("SELECT count(*) FROM slot WHERE held + booked > capacity"))
    mismatched = int(
        q(
            "SELECT count(*) FROM slot s WHERE booked <> (SELECT count(*) FROM reservation r "
            "WHERE r.slot_id = s.id AND r.status = 'confirmed')"
        )
    )
    same_person_twice = int(q(data.SAME_PERSON_TWICE_SQL))
    half_courses = int(q(data.HALF_COURSES_SQL))
    courses = int(q(data.COURSES_SQL))
    # Dose 1's places (inside the horizon): dose 2's, past it, are booked with them.
    booked_total = int(q(f"SELECT coalesce(sum(booked), 0) FROM slot WHERE {data.BOOKABLE}"))
    live_holds = int(q("SELECT count(*) FROM reservation WHERE status = 'held'"))
    unsold = int(q(f"SELECT count(*) FROM slot WHERE held + booked < capacity AND {data.BOOKABLE}"))
    # One confirmation per booking: a course's names both doses, so its dose 2 has none.
    bookings = int(
        q("SELECT count(*) FROM reservation WHERE status = 'confirmed' AND course_id IS NULL")
    )
    db_codes = set(
        q("SELECT confirmation_code FROM reservation WHERE status = 'confirmed'").split()
    )
    acked = {r[k] for r in residents for k in ("code", "second_code") if r.get(k)}
    # A two-dose booking acknowledged without its dose 2 is a half course too.
    half_acked = sum(
        1
        for r in residents
        if r.get("code") and r.get("product") in data.COURSE_PRODUCTS and not r.get("second_code")
    )
    demand = sum(1 for r in residents if r["outcome"] in ("booked", "sold_out"))
    drained_s = wait_for_messages(stack)
    enqueued = int(q("SELECT count(*) FROM outbox_message WHERE kind = 'confirmation'"))
    statuses = q(
        "SELECT status || '=' || count(*) FROM outbox_message WHERE kind = 'confirmation' "
        "GROUP BY status"
    ).split()
    delivered = smtp.counts() + sms.counts()
    contacts = [r["contact"].lower() for r in residents if r.get("code")]
    undelivered = sum(1 for c in contacts if delivered.get(c, 0) == 0)
    # Still queued or being sent when the wait ran out: late, not lost (the outbox keeps them).
    pending = int(
        q(
            "SELECT count(*) FROM outbox_message WHERE kind = 'confirmation' "
            "AND status IN ('queued', 'sending')"
        )
    )
    late = min(undelivered, pending)
    sent_twice = sum(1 for c in contacts if delivered.get(c, 0) > 1)
    tau = None
    admitted = [r for r in residents if r.get("ticket") and r.get("admitted_at") is not None]
    if admitted:
        pipe = redis.pipeline(transaction=False)
        for r in admitted:
            pipe.hmget(f"{QUEUE_PREFIX}:t:{r['ticket']}", "place", "admitted_seq")
        rows = [(float(p), float(s)) for p, s in pipe.execute() if p is not None and s is not None]
        if len(rows) > 1:
            tau = kendall_tau([p for p, _ in rows], [s for _, s in rows])
    return {
        "double_bookings": overbooked + mismatched + same_person_twice,
        "overbooked_slots": overbooked,
        "counter_mismatches": mismatched,
        "same_person_twice": same_person_twice,
        "half_courses": half_courses + half_acked,
        "courses": courses,
        "capacity": capacity,
        "booked": booked_total,
        "live_holds": live_holds,
        "slots_not_full": unsold,
        "demand_exceeded_capacity": demand > capacity,
        "sold_out_exactly": (booked_total + live_holds == capacity) if demand > capacity else None,
        "acknowledged": len(acked),
        "acknowledged_lost": len(acked - db_codes),
        "confirmed_in_db": len(db_codes),
        "messages_enqueued": enqueued,
        "messages_equal_bookings": enqueued == bookings,
        "message_statuses": statuses,
        "messages_drained_s": round(drained_s, 1),
        "confirmations_lost": undelivered - late,
        "confirmations_late": late,
        "confirmations_sent_twice": sent_twice,
        "duplicate_message_ids": smtp.duplicate_ids() + sms.duplicate_ids(),
        "kendall_tau": None if tau is None else round(tau, 4),
        "kendall_n": len(admitted),
    }
