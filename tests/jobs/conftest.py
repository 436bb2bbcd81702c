"""Fixtures of the jobs tests."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import TEST_REDIS_URL
from tests.support import RedisServer


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
