"""The admission queue itself (admission/, no Flask): order, fairness, limits and idleness."""

from __future__ import annotations

import multiprocessing
import random
from datetime import UTC, datetime, timedelta

import pytest

from admission import tokens
from admission.queue import AdmissionQueue, PollLimit, PollLimited, QueueClosed
from admission.settings import QueueSettings, SettingsError
from tests.conftest import TEST_REDIS_URL
from tests.support import RedisServer

T0 = datetime(2026, 3, 4, 11, 0, tzinfo=UTC).timestamp()  # 06:00 in Boston


def redis_client(url=None):
    """A client on the test Redis (flushed), or a fresh fakeredis."""
    if url or TEST_REDIS_URL:
        import redis

        client = redis.Redis.from_url(url or TEST_REDIS_URL)
        client.flushdb()
        return client
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def make_queue(client=None, rng=None, **settings):
    values = {
        "mode": "always",
        "max_active": 10_000,
        "admit_per_minute": 100_000,
        "idle_minutes": 10_000,
    }
    values.update(settings)
    queue = AdmissionQueue(
        client or redis_client(), QueueSettings(**values), rng=rng, settings_cache_seconds=0
    )
    queue.set_inventory(1_000_000, T0)
    return queue


def admitted_seq(queue, ticket):
    raw = queue.redis.hget(f"{queue.prefix}:t:{ticket}", "admitted_seq")
    return int(raw) if raw is not None else None


def drain(queue, tickets, now):
    """Let everyone in: whoever is admitted leaves (is revoked), and the line advances."""
    for _ in range(len(tickets) + 5):
        queue.advance(now=now)
        active = queue.redis.zrange(f"{queue.prefix}:active", 0, -1)
        if not active:
            break
        for ticket in active:
            queue.revoke(ticket.decode())
    assert all(admitted_seq(queue, t) is not None for t in tickets), "the line did not drain"


def test_a_thousand_arrivals_are_admitted_in_arrival_order():
    queue = make_queue(max_active=7, admit_per_minute=100_000)
    tickets = [queue.join(binding="b", now=T0 + i / 1000).ticket for i in range(1000)]
    first = queue.poll(tickets[500], now=T0 + 2)
    assert first.state == "waiting"
    assert first.position == 500 - 7 + 1  # seven are in, 493 ahead of this one
    drain(queue, tickets, T0 + 3)
    order = [admitted_seq(queue, t) for t in tickets]
    assert order == sorted(order)
    assert order == list(range(1, 1001))


def test_prequeue_arrivals_get_a_uniformly_random_order_and_latecomers_queue_behind():
    """Chi-square over 1,000 openings of 4 early arrivals each (fixed seed).

    Each of the 16 (arrival, place) cells expects 250. The critical value of chi-square with 9
    degrees of freedom at p = 0.001 is 27.88: a fair shuffle exceeds it one time in a thousand,
    and a queue that kept arrival order would score about 2,250.
    """
    rng = random.Random(20210218)
    client = redis_client()
    opens = datetime.fromtimestamp(T0, UTC)
    counts = [[0] * 4 for _ in range(4)]
    queue = make_queue(client, rng=rng, opens_at=opens, prequeue_minutes=30, max_active=1)
    for trial in range(1000):
        client.flushdb()
        queue.set_inventory(1_000, T0)
        early = [queue.join(binding="b", now=T0 - 600 + i).ticket for i in range(4)]
        status = queue.poll(early[0], now=T0 - 1)
        assert status.phase == "prequeue" and status.position is None
        late = [queue.join(binding="b", now=T0 + 1 + i).ticket for i in range(2)]
        drain(queue, early + late, T0 + 10)
        places = [admitted_seq(queue, t) for t in early + late]
        assert sorted(places[:4]) == [1, 2, 3, 4], "early arrivals all go first"
        assert places[4:] == [5, 6], "later arrivals follow in arrival order"
        for arrival, place in enumerate(places[:4]):
            counts[arrival][place - 1] += 1
        if trial == 0:
            assert queue.redis.exists(f"{queue.prefix}:t:{early[0]}")
    expected = 1000 / 4
    chi2 = sum((c - expected) ** 2 / expected for row in counts for c in row)
    assert chi2 < 27.88, counts


def test_before_the_prequeue_window_the_room_is_closed():
    opens = datetime.fromtimestamp(T0, UTC)
    queue = make_queue(opens_at=opens, prequeue_minutes=30)
    with pytest.raises(QueueClosed) as closed:
        queue.join(binding="b", now=T0 - 31 * 60)
    assert closed.value.prequeue_from == opens - timedelta(minutes=30)


def test_active_and_per_minute_limits():
    queue = make_queue(max_active=3, admit_per_minute=1_000)
    statuses = [queue.join(binding="b", now=T0) for _ in range(5)]
    assert [s.state for s in statuses] == ["admitted"] * 3 + ["waiting"] * 2
    queue = make_queue(max_active=1_000, admit_per_minute=4)
    statuses = [queue.join(binding="b", now=T0) for _ in range(6)]
    assert [s.state for s in statuses] == ["admitted"] * 4 + ["waiting"] * 2
    # A minute later the next admissions are allowed.
    assert queue.poll(statuses[4].ticket, now=T0 + 61).state == "admitted"


def test_idle_waiting_tickets_and_idle_admitted_users_drop_out_and_their_places_are_reused():
    queue = make_queue(max_active=2, idle_minutes=5)
    a, _b = (queue.join(binding="b", now=T0).ticket for _ in range(2))
    c = queue.join(binding="b", now=T0).ticket  # waits: two are active
    d = queue.join(binding="b", now=T0 + 1).ticket  # waits behind c
    assert queue.poll(d, now=T0 + 200).position == 2
    # c stops polling. a keeps using the site; b walks away.
    queue.touch(a, now=T0 + 250)
    status = queue.poll(d, now=T0 + 301)
    # b idled out (its place freed) and c idled out (dropped from the line): d is in.
    assert status.state == "admitted"
    assert queue.poll(c, now=T0 + 302).state == "expired"
    assert queue.touch(a, now=T0 + 303) == "admitted"
    assert queue.stats(now=T0 + 303).active == 2


def test_leaving_frees_the_active_place_for_the_next_in_line_and_the_token_still_works():
    queue = make_queue(max_active=1, idle_minutes=5)
    a = queue.join(binding="b", now=T0).ticket
    b = queue.join(binding="b", now=T0 + 1).ticket
    assert queue.poll(b, now=T0 + 2).state == "waiting"
    assert queue.leave(a)
    assert not queue.leave(a)  # already gone: nothing to free
    assert not queue.leave(b)  # waiting, not active: its place in line is untouched
    assert queue.poll(b, now=T0 + 3).state == "admitted"
    assert queue.stats(now=T0 + 3).active == 1
    # a is still admitted: coming back counts as active again instead of being refused.
    assert queue.touch(a, now=T0 + 4) == "admitted"
    assert queue.stats(now=T0 + 4).active == 2


def test_paused_and_sold_out_admit_nobody():
    queue = make_queue(mode="paused")
    assert queue.join(binding="b", now=T0).state == "waiting"
    queue = make_queue()
    queue.set_inventory(0, T0)
    status = queue.join(binding="b", now=T0)
    assert status.state == "waiting"
    assert status.sold_out
    queue.set_inventory(5, T0)
    later = queue.poll(status.ticket, now=T0 + 1)
    assert later.state == "admitted"


def test_a_poll_is_one_round_trip_that_also_reports_the_inventory():
    queue = make_queue(mode="paused")
    queue._cache_seconds = 60.0  # settings cached, as in the app
    queue.set_inventory(7, T0 + 5)
    ticket = queue.join(binding="b", now=T0).ticket
    queue.poll(ticket, now=T0 + 1)  # Redis learns the script (EVALSHA, then SCRIPT LOAD once)
    sent = []
    execute = queue.redis.execute_command

    def counting(*args, **kwargs):
        sent.append(args[0])
        return execute(*args, **kwargs)

    queue.redis.execute_command = counting
    queue.inventory_seen_at = None
    status = queue.poll(ticket, now=T0 + 6)
    assert sent == ["EVALSHA"]
    assert status.remaining == 7
    # The process now knows when the count was made, without asking Redis for it.
    assert queue.inventory_seen_at == T0 + 5


def test_a_ticket_polled_for_another_binding_reads_unknown_and_is_left_untouched():
    queue = make_queue(mode="paused")
    ticket = queue.join(binding="browser-1", now=T0).ticket
    seen = f"{queue.prefix}:seen"
    other = queue.poll(ticket, now=T0 + 50, binding="api")
    assert other.state == "unknown" and other.binding == ""
    assert queue.redis.zscore(seen, ticket) == T0  # not kept alive by someone else's poll
    mine = queue.poll(ticket, now=T0 + 60, binding="browser-1")
    assert mine.state == "waiting" and mine.binding == "browser-1"
    assert queue.redis.zscore(seen, ticket) == T0 + 60


def test_the_poll_limit_is_counted_in_the_same_round_trip_per_client_and_window():
    queue = make_queue(mode="paused")
    queue._cache_seconds = 60.0  # settings cached, as in the app
    ticket = queue.join(binding="b", now=T0).ticket
    start = T0 - T0 % 60  # the fixed minute window T0 falls in
    mine, theirs = PollLimit("10.0.0.1", ((3, 60),)), PollLimit("10.0.0.2", ((3, 60),))
    sent = []
    execute = queue.redis.execute_command

    def counting(*args, **kwargs):
        sent.append(args[0])
        return execute(*args, **kwargs)

    queue.poll(ticket, now=start + 1, limit=mine)  # Redis learns the new script
    queue.redis.execute_command = counting
    for second in (2, 3):
        assert queue.poll(ticket, now=start + second, limit=mine).state == "waiting"
    assert sent == ["EVALSHA", "EVALSHA"]
    with pytest.raises(PollLimited) as refused:
        queue.poll(ticket, now=start + 20, limit=mine)
    assert refused.value.retry_after == 40  # until the window turns
    # A refused poll changes nothing: the ticket was last seen by the allowed poll.
    assert queue.redis.zscore(f"{queue.prefix}:seen", ticket) == start + 3
    # Another client has its own allowance; the next window starts afresh.
    assert queue.poll(ticket, now=start + 21, limit=theirs).state == "waiting"
    assert queue.poll(ticket, now=start + 61, limit=mine).state == "waiting"
    # Several windows at once ("2 per second; 3 per minute"): the tighter one refuses first.
    both = PollLimit("10.0.0.3", ((2, 1), (3, 60)))
    queue.poll(ticket, now=start + 70, limit=both)
    queue.poll(ticket, now=start + 70.5, limit=both)
    with pytest.raises(PollLimited) as per_second:
        queue.poll(ticket, now=start + 70.6, limit=both)
    assert per_second.value.retry_after == 1
    queue.poll(ticket, now=start + 71, limit=both)
    with pytest.raises(PollLimited) as per_minute:
        queue.poll(ticket, now=start + 72, limit=both)
    assert per_minute.value.retry_after == 48


def test_status_tells_the_truth_about_the_wait():
    queue = make_queue(max_active=1, admit_per_minute=60)
    queue.set_inventory(3, T0)
    tickets = [queue.join(binding="b", now=T0 + i).ticket for i in range(6)]
    status = queue.poll(tickets[5], now=T0 + 10)
    assert status.position == 5 and status.ahead == 4
    assert status.eta_seconds == 5 * 60  # one admission observed in the last minute
    assert status.likely_too_late  # 4 ahead, 3 appointments left
    near = queue.poll(tickets[1], now=T0 + 10)
    far_queue = make_queue(max_active=1)
    far = [far_queue.join(binding="b", now=T0).ticket for _ in range(700)]
    far_status = far_queue.poll(far[-1], now=T0 + 1)
    assert far_status.poll_after_seconds > near.poll_after_seconds


def test_settings_are_validated_and_live():
    queue = make_queue()
    with pytest.raises(SettingsError):
        queue.update_settings(mode="sometimes")
    with pytest.raises(SettingsError):
        queue.update_settings(max_active="many")
    queue.update_settings(mode="paused", max_active="12")
    other_process_view = AdmissionQueue(queue.redis, queue.defaults, settings_cache_seconds=0)
    assert other_process_view.settings().mode == "paused"
    assert other_process_view.settings().max_active == 12
    queue.reset_settings()
    assert queue.settings().mode == "always"


def test_tokens_refuse_tampering_expiry_and_other_bindings():
    token = tokens.sign("secret", "ticket123", 2_000, "session-a")
    assert tokens.verify("secret", token, binding="session-a", now=1_000).ticket == "ticket123"
    for bad, binding, now in [
        (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "session-a", 1_000),
        (token.replace("ticket123", "ticket124"), "session-a", 1_000),
        (token.replace(".2000.", ".9000."), "session-a", 1_000),
        (token, "session-b", 1_000),
        (token, "session-a", 2_000),
        ("garbage", "session-a", 1_000),
        (tokens.sign("other-secret", "ticket123", 2_000, "session-a"), "session-a", 1_000),
    ]:
        with pytest.raises(tokens.TokenError):
            tokens.verify("secret", bad, binding=binding, now=now)


def _join_many(url, n, barrier, out, max_active, per_minute):
    import redis

    client = redis.Redis.from_url(url)
    queue = AdmissionQueue(
        client,
        QueueSettings(
            mode="always", max_active=max_active, admit_per_minute=per_minute, idle_minutes=10_000
        ),
        settings_cache_seconds=0,
    )
    barrier.wait()
    admitted = 0
    for i in range(n):
        if queue.join(binding="b", now=T0 + i / 1000).state == "admitted":
            admitted += 1
    for _ in range(3):  # polls advance the line too
        queue.advance(now=T0 + 1)
    out.put(admitted)


@pytest.fixture
def shared_redis_url():
    """A Redis that separate processes can reach: the test Redis, or a private redis-server."""
    if TEST_REDIS_URL:
        redis_client(TEST_REDIS_URL)
        yield TEST_REDIS_URL
        return
    if not RedisServer.available():
        pytest.skip("needs a Redis reachable from two processes (redis-server not installed)")
    server = RedisServer().start()
    yield server.url
    server.stop()


@pytest.mark.parametrize(("max_active", "per_minute", "expected"), [(25, 1000, 25), (1000, 20, 20)])
def test_limits_hold_across_two_processes_sharing_one_redis(
    shared_redis_url, max_active, per_minute, expected
):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    out = context.Queue()
    import redis

    AdmissionQueue(redis.Redis.from_url(shared_redis_url), QueueSettings()).set_inventory(
        10_000, T0
    )
    workers = [
        context.Process(
            target=_join_many,
            args=(shared_redis_url, 150, barrier, out, max_active, per_minute),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    client = redis.Redis.from_url(shared_redis_url)
    prefix = "{fairslot:queue}"
    active = client.zcard(f"{prefix}:active")
    admitted_total = int(client.get(f"{prefix}:admitted_total"))
    waiting = client.zcard(f"{prefix}:waiting")
    assert active == expected, "never more than the limit in, and the room filled up"
    assert admitted_total == expected
    assert waiting == 300 - expected
    assert out.get(timeout=5) + out.get(timeout=5) <= expected
