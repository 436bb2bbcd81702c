"""Redis Sentinel: the primary is killed for good, the app follows the promoted replica.

Real processes (a primary, a replica, three sentinels on loopback ports picked here), so the
test runs in the real-services run only: the embedded run has no Redis server to lose. In CI
redis-sentinel is installed by .ci/run, so it never skips there.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from bench import sentinel_cluster
from booking.web.queue_state import get_queue
from tests.conftest import TEST_REDIS_URL
from tests.support import person_json
from tests.waiting.support import (
    add_slots,
    admission_cookie,
    api_confirm,
    api_hold,
    api_join,
    browser_admitted,
    client_confirms,
    counters,
    html_details,
    html_hold,
    join_form,
    position,
    revoke,
    session_value,
    text,
)


@pytest.fixture(scope="module")
def cluster():
    if not TEST_REDIS_URL:
        pytest.skip("the failover test runs with the real services (FAIRSLOT_TEST_REDIS_URL)")
    if not sentinel_cluster.available():
        if os.environ.get("CI"):
            pytest.fail("redis-sentinel is missing: .ci/run installs it")
        pytest.skip("redis-server and redis-sentinel are not installed")
    with sentinel_cluster.SentinelCluster() as running:
        yield running


def lose(app, ticket):
    """Drop a ticket from the line's Redis, as a failover to a lagging replica does."""
    with app.app_context():
        queue = get_queue()
        for key in (queue.keys.waiting, queue.keys.seen, queue.keys.active):
            queue.redis.zrem(key, ticket)
        queue.redis.delete(f"{queue.prefix}:t:{ticket}")


def test_the_app_follows_a_failover_and_restores_what_the_replica_lost(build, now, cluster):
    app = build(
        REDIS_URL=None,
        REDIS_SENTINELS=cluster.sentinels,
        REDIS_SENTINEL_SERVICE=sentinel_cluster.SERVICE,
        QUEUE_MAX_ACTIVE=1,
    )
    first, second = add_slots(app, now, 2, 2)
    alice = app.test_client()
    browser_admitted(alice)
    bob = app.test_client()
    assert join_form(bob).status_code == 303
    assert position(bob.get("/waiting-room/status")) == 1
    api = app.test_client()
    carol = api_join(api)
    assert carol["state"] == "waiting"
    old = sentinel_cluster.client(cluster.primary()[1])
    assert old.wait(1, 5000) == 1  # the replica has all of it: nothing is lost in this part

    old_port = cluster.kill_primary()
    new_port = cluster.wait_failover(old_port)
    assert new_port == cluster.replica_port

    # Everyone carries on against the new primary: Alice books, which lets Bob in.
    held = html_hold(alice, first)
    assert held.headers["Location"].startswith("/book/"), text(held)[:500]
    assert client_confirms(alice, held.headers["Location"])
    assert counters(app, first) == (0, 1)
    assert "It is your turn" in text(bob.get("/waiting-room/status"))
    assert api.get(f"/api/v1/queue/tickets/{carol['ticket']}").get_json()["state"] == "waiting"
    dave = app.test_client()
    assert join_form(dave).status_code == 303
    assert position(dave.get("/waiting-room/status")) == 2  # behind Carol

    # What a lagging replica would have lost comes back from what the clients hold, signed:
    # Dave's place in line (his session) and Bob's admission (his token).
    lose(app, session_value(dave, "qticket"))
    assert position(dave.get("/waiting-room/status")) == 2
    lose(app, session_value(bob, "qticket"))
    held = html_hold(bob, second)
    assert held.headers["Location"].startswith("/book/"), text(held)[:500]
    bob_details = html_details(bob, first_name="Robert", last_name="Baker", email="rb@example.com")
    done = bob.post(held.headers["Location"], data=bob_details)
    assert done.headers.get("Location") == "/confirmation", text(done)[:3000]
    # Carol's API ticket is a bare id, with nothing signed to restore it from.
    lose(app, carol["ticket"])
    assert api.get(f"/api/v1/queue/tickets/{carol['ticket']}").status_code == 404

    # Nothing else comes back: not a revoked ticket, not one older than a ticket's lifetime.
    revoke(app, session_value(dave, "qticket"))
    assert dave.get("/waiting-room/status").headers["Location"].startswith("/waiting-room?")
    frank = app.test_client()
    assert join_form(frank).status_code == 303
    lose(app, session_value(frank, "qticket"))
    app.config["CLOCK"].advance(timedelta(hours=6, seconds=1))
    assert frank.get("/waiting-room/status").headers["Location"].startswith("/waiting-room?")
    assert admission_cookie(frank) is None

    # The API's admission tokens are restored like the browsers'.
    token = api_join(api)
    assert token["state"] == "admitted", token
    lose(app, token["ticket"])
    moved = api_hold(api, second, token["admission_token"])
    assert moved.status_code == 201, text(moved)[:500]
    body = person_json(3)
    booked = api_confirm(api, moved.get_json()["hold_id"], body, token["admission_token"])
    assert booked.status_code == 201, text(booked)[:500]
    assert counters(app, second) == (0, 2)
