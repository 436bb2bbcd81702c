"""The line's last hour, minute by minute: what the scripts record for the admins' charts."""

from __future__ import annotations

from admission.scripts import HISTORY_MINUTES
from tests.admission.test_admission import T0, make_queue

MINUTE = 60


def by_start(queue, now):
    return {m.starts_at: (m.waiting, m.admitted) for m in queue.history(now=now)}


def test_admissions_are_counted_in_their_minute_with_the_longest_the_line_was():
    queue = make_queue(admit_per_minute=3)
    tickets = [queue.join(binding="b", now=T0 + i).ticket for i in range(10)]
    # Minute 0: three let in as they came, then the line grew to seven.
    queue.poll(tickets[-1], now=T0 + 30)
    queue.advance(now=T0 + MINUTE + 5)  # minute 1: three more let in, four left
    queue.advance(now=T0 + MINUTE + 50)  # nothing more this minute (three per minute)
    queue.advance(now=T0 + 3 * MINUTE + 1)  # minute 3: three let in, one left
    figures = by_start(queue, T0 + 3 * MINUTE + 2)
    assert figures[T0] == (7, 3)
    assert figures[T0 + MINUTE] == (4, 3)
    assert figures[T0 + 2 * MINUTE] == (None, 0)  # no call in that minute: nothing known
    assert figures[T0 + 3 * MINUTE] == (1, 3)
    assert sum(a for _w, a in figures.values()) == queue.stats(now=T0 + 200).admitted_total == 9


def test_a_line_that_grew_and_cleared_within_a_minute_shows_its_peak():
    queue = make_queue(mode="paused")
    for i in range(5):
        queue.join(binding="b", now=T0 + i)
    queue.update_settings(mode="always")
    assert queue.advance(now=T0 + 30) == 5
    assert queue.stats(now=T0 + 31).waiting == 0
    assert by_start(queue, T0 + 31)[T0] == (5, 5)


def test_the_history_is_the_last_hour_oldest_first_and_never_grows():
    queue = make_queue()  # everyone is let in on joining
    for minute in range(3 * HISTORY_MINUTES):
        queue.join(binding="b", now=T0 + minute * MINUTE)
    now = T0 + (3 * HISTORY_MINUTES - 1) * MINUTE + 10
    history = queue.history(now=now)
    starts = [m.starts_at for m in history]
    assert len(history) == HISTORY_MINUTES
    assert starts == sorted(starts) and starts[-1] == T0 + (3 * HISTORY_MINUTES - 1) * MINUTE
    assert all((m.waiting, m.admitted) == (0, 1) for m in history)
    assert queue.redis.hlen(queue.keys.history) == 3 * HISTORY_MINUTES  # 3 fields per minute
    # An hour later with no call at all, the ring still holds the old hour: none of it shows.
    later = queue.history(now=now + HISTORY_MINUTES * MINUTE)
    assert [(m.waiting, m.admitted) for m in later] == [(None, 0)] * HISTORY_MINUTES


def test_a_ring_place_reused_an_hour_later_starts_from_zero():
    queue = make_queue(admit_per_minute=5)
    for i in range(5):
        queue.join(binding="b", now=T0 + i)
    queue.join(binding="b", now=T0 + HISTORY_MINUTES * MINUTE)  # the same ring place
    figures = by_start(queue, T0 + HISTORY_MINUTES * MINUTE + 1)
    assert figures[T0 + HISTORY_MINUTES * MINUTE] == (0, 1)
    assert T0 not in figures


def test_a_paused_line_records_who_waits_and_nobody_admitted():
    queue = make_queue(mode="paused")
    for i in range(4):
        queue.join(binding="b", now=T0 + MINUTE + i)
    assert by_start(queue, T0 + MINUTE + 5)[T0 + MINUTE] == (4, 0)
    queue.advance(now=T0 + 2 * MINUTE)
    assert by_start(queue, T0 + 2 * MINUTE)[T0 + 2 * MINUTE] == (4, 0)


def test_sold_out_the_line_is_still_counted():
    queue = make_queue()
    queue.set_inventory(0, T0)
    for i in range(3):
        queue.join(binding="b", now=T0 + i)
    queue.advance(now=T0 + MINUTE)
    assert by_start(queue, T0 + MINUTE)[T0 + MINUTE] == (3, 0)


def test_a_refused_or_foreign_poll_records_nothing():
    queue = make_queue(admit_per_minute=1)
    first = queue.join(binding="mine", now=T0)
    queue.poll(first.ticket, now=T0 + 2 * MINUTE, binding="someone-else")
    assert by_start(queue, T0 + 2 * MINUTE)[T0 + 2 * MINUTE] == (None, 0)
