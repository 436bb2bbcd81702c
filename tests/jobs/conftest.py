"""Fixtures of the jobs tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from booking.db import db
from tests.conftest import TEST_REDIS_URL
from tests.support import RedisServer, make_clinic, make_slot, person_json


@pytest.fixture
def real_redis():
    """A Redis reachable from other processes: FAIRSLOT_TEST_REDIS_URL, or a private server."""
    if TEST_REDIS_URL:
        redis.Redis.from_url(TEST_REDIS_URL).flushdb()
        yield TEST_REDIS_URL
        return
    if not RedisServer.available():
        pytest.skip("needs a real Redis (FAIRSLOT_TEST_REDIS_URL or redis-server)")
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


def book_through_api(app, client, now):
    """Hold and confirm one place three days ahead through the API; the confirmation's JSON."""
    with app.app_context():
        slot_id = db.transaction(
            lambda s: make_slot(s, make_clinic(s, now), now + timedelta(days=3)).id
        )
    hold = client.post("/api/v1/holds", json={"slot_id": slot_id}).json
    body = person_json(1, email="resident@example.com")
    confirmed = client.post(f"/api/v1/holds/{hold['hold_id']}/confirm", json=body)
    assert confirmed.status_code == 201
    return confirmed.json
