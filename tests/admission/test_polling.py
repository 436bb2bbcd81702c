"""Position-aware polling: the front polls often, the back rarely, the line within its budget."""

from __future__ import annotations

import math
import random

import pytest

from admission.polling import MIN_SECONDS, PollPlan, total_rate
from tests.admission.test_admission import T0, make_queue

SMALL = PollPlan(budget_per_second=20, idle_seconds=60)  # longest interval M = 42 s
SPREAD = math.log(SMALL.max_seconds / MIN_SECONDS)
FITS = SMALL.max_seconds * (SMALL.budget_per_second - SPREAD / MIN_SECONDS)  # about 822


@pytest.mark.parametrize("waiting", [1, 10, 100, 400, int(FITS)])
def test_the_whole_line_polls_within_the_budget_up_to_about_budget_times_longest(waiting):
    assert total_rate(SMALL, waiting) <= SMALL.budget_per_second + 1e-9


def test_past_that_every_ticket_polls_once_per_longest_interval_and_no_more():
    waiting = 3000
    floor = (1 + SPREAD) / MIN_SECONDS  # what the front adds, polling every 5 s regardless
    assert total_rate(SMALL, waiting) <= waiting / SMALL.max_seconds + floor + 1e-9
    assert SMALL.interval(1, waiting) == MIN_SECONDS  # the first in line still polls often


def test_the_interval_grows_with_distance_and_stays_inside_the_idle_timeout():
    for waiting in (50, 800, 5000):
        intervals = [SMALL.interval(p, waiting) for p in range(1, waiting + 1)]
        assert intervals == sorted(intervals)
        assert intervals[0] == MIN_SECONDS
        assert max(intervals) * 1.2 < SMALL.idle_seconds  # jitter included
    assert SMALL.interval(300, 300) > 4 * SMALL.interval(50, 300)


def test_the_default_budget_holds_for_the_benchmarks_crowd():
    plan = PollPlan(budget_per_second=200, idle_seconds=300)
    assert total_rate(plan, 12_000) <= 200 + 1e-9  # about the quick run's longest line
    assert plan.interval(100, 12_000) == MIN_SECONDS


def test_before_opening_everyone_polls_alike_within_the_budget():
    assert SMALL.prequeue_interval(10) == 30
    assert 500 / SMALL.prequeue_interval(500) <= SMALL.budget_per_second
    assert SMALL.prequeue_interval(10**6) == SMALL.max_seconds


def test_the_queue_tells_each_place_its_own_interval_with_jitter_only_lengthening_it():
    queue = make_queue(max_active=1, rng=random.Random(4), idle_minutes=1)
    queue.poll_budget = 20
    tickets = [queue.join(binding="b", now=T0).ticket for _ in range(200)]
    front = queue.poll(tickets[1], now=T0 + 1)
    back = queue.poll(tickets[-1], now=T0 + 1)
    assert front.position == 1 and back.position == 199
    assert MIN_SECONDS <= front.poll_after_seconds <= MIN_SECONDS * 1.2 + 1
    plain = SMALL.interval(199, back.waiting)
    assert plain <= back.poll_after_seconds <= plain * 1.2 + 1
    assert back.poll_after_seconds < 60  # inside the idle timeout
