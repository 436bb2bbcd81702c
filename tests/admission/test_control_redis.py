"""The admission controller on Redis: the shared window, one step a period, pins, admission."""

from __future__ import annotations

import pytest

from admission import health
from admission.control import AdmissionControl, ControlConfig, Decision
from admission.queue import AdmissionQueue
from admission.settings import QueueSettings
from tests.admission.test_admission import T0, redis_client

CONFIG = ControlConfig(enabled=True, min_per_minute=1, max_per_minute=100_000, target_ms=500)


def controlled_queue(client=None, *, config=CONFIG, admit_per_minute=600):
    client = client or redis_client()
    control = AdmissionControl(client, "{fairslot:queue}", config, cache_seconds=0)
    settings = QueueSettings(
        mode="always", max_active=10_000, admit_per_minute=admit_per_minute, idle_minutes=10_000
    )
    queue = AdmissionQueue(client, settings, settings_cache_seconds=0, control=control)
    queue.set_inventory(1_000_000, T0)
    return queue


def record_requests(queue, *, at, n, latency_ms, error=False):
    for _ in range(n):
        health.record(
            queue.redis,
            queue.prefix,
            ended_at=at,
            latency_ms=latency_ms,
            error=error,
            target_ms=CONFIG.target_ms,
        )


def admitted_now(queue, now):
    return queue.stats(now=now).admitted_last_minute


def test_the_window_is_shared_and_read_over_whole_seconds_before_now():
    queue = controlled_queue()
    record_requests(queue, at=T0 - 3.5, n=4, latency_ms=20)
    record_requests(queue, at=T0 - 1.2, n=1, latency_ms=800)
    record_requests(queue, at=T0 - 1.1, n=1, latency_ms=1, error=True)
    record_requests(queue, at=T0 + 0.2, n=9, latency_ms=9000)  # the current second: not yet
    record_requests(queue, at=T0 - 30, n=9, latency_ms=9000)  # before the window
    raw = health.read(queue.redis, queue.prefix, now=T0 + 0.5, seconds=10)
    got = health.summarize(raw, seconds=10, target_ms=500)
    assert (got.requests, got.slow, got.errors, got.p50_ms) == (6, 2, 1, 25)
    assert queue.redis.ttl(health.bucket_key(queue.prefix, int(T0 - 3.5))) > 0


def test_a_slow_window_cuts_the_rate_the_admit_step_uses():
    queue = controlled_queue(admit_per_minute=10)
    for i in range(20):
        queue.join(binding="b", now=T0 + i / 100)
    assert admitted_now(queue, T0 + 1) == 10  # the starting rate, before any step
    record_requests(queue, at=T0 + 3, n=50, latency_ms=2000)
    later = T0 + 10
    queue.poll("nobody", now=later)  # a poll is due to step the controller
    state = queue.control.view(10, now=later).state
    assert (state.decision, state.rate) == (Decision.CUT, 7)
    assert (state.figures.requests, state.figures.slow, state.figures.p99_ms) == (50, 50, 2500)


def test_a_fast_window_with_people_waiting_raises_the_rate_and_more_are_let_in():
    queue = controlled_queue(admit_per_minute=8)
    tickets = [queue.join(binding="b", now=T0 + i / 100).ticket for i in range(40)]
    assert admitted_now(queue, T0 + 1) == 8
    record_requests(queue, at=T0 + 4, n=100, latency_ms=30)
    queue.poll(tickets[-1], now=T0 + 5)
    assert queue.control.view(8, now=T0 + 5).state.decision == Decision.SLOW_START
    assert queue.admit_rate(queue.settings(), T0 + 5) == 10  # 8 x 1.25
    assert admitted_now(queue, T0 + 5) == 10


def test_only_one_process_takes_each_step():
    client = redis_client()
    first = controlled_queue(client, admit_per_minute=4)
    second = controlled_queue(client, admit_per_minute=4)
    for i in range(10):
        first.join(binding="b", now=T0 - 6 + i / 100)  # 4 let in, 6 waiting
    record_requests(first, at=T0 - 1, n=100, latency_ms=30)
    first.poll("x", now=T0)
    second.poll("x", now=T0 + 1)  # same step period: reads the first's state, no step
    state = second.control.view(4, now=T0 + 1).state
    assert (state.decision, state.rate, state.stepped_at) == (Decision.SLOW_START, 5, T0)
    second.poll("x", now=T0 + 5)
    assert second.control.view(4, now=T0 + 5).state.rate == 6.25


def test_a_process_that_lost_the_step_does_not_ask_again_on_every_poll():
    client = redis_client()
    first, second = controlled_queue(client), controlled_queue(client)
    second.control._cache_seconds = 60  # its stale state stays cached, the step due
    second.poll("x", now=T0 - 10)  # reads (no state yet) and takes a step
    first.poll("x", now=T0)  # takes the step of this period
    claims = []
    real_set = client.set
    client.set = lambda *a, **k: claims.append(a[0]) or real_set(*a, **k)
    for i in range(5):
        second.poll("x", now=T0 + i / 10)
    assert len(claims) == 1  # one attempt at the period's claim, lost, then no more


def test_a_pin_replaces_the_controller_until_unpinned_and_no_step_overwrites_it():
    queue = controlled_queue(admit_per_minute=600)
    queue.control.pin(3)
    for i in range(10):
        queue.join(binding="b", now=T0 + i / 100)
    assert admitted_now(queue, T0 + 1) == 3
    record_requests(queue, at=T0 + 5, n=100, latency_ms=30)
    queue.poll("x", now=T0 + 20)
    assert queue.control.view(600, now=T0 + 20).rate == 3
    queue.control.unpin()
    assert queue.control.view(600, now=T0 + 30).rate >= 600
    for bad in (0, -1, 1_000_001):
        with pytest.raises(ValueError):
            queue.control.pin(bad)


def test_switched_off_the_setting_is_the_rate_and_nothing_is_stored():
    client = redis_client()
    queue = controlled_queue(client, config=ControlConfig(enabled=False), admit_per_minute=2)
    for i in range(5):
        queue.join(binding="b", now=T0 + i)
    assert admitted_now(queue, T0 + 5) == 2
    assert not client.exists("{fairslot:queue}:control")


def test_an_unreadable_state_starts_afresh_rather_than_failing_admission():
    queue = controlled_queue(admit_per_minute=5)
    queue.redis.hset("{fairslot:queue}:control", mapping={"rate": "NaN?", "decision": "bogus"})
    queue.join(binding="b", now=T0)
    assert queue.control.view(5, now=T0).state.decision in (Decision.NO_DEMAND, Decision.START)
    assert admitted_now(queue, T0) == 1
