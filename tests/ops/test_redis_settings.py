"""FAIRSLOT_REDIS_SENTINELS and the clients built from it (no server needed)."""

from __future__ import annotations

import pytest

from booking.config import ConfigError, load_config
from booking.redis_client import redis_target, uses_real_redis


def config(**environ):
    return load_config({"FAIRSLOT_ENV": "test", **environ})


def test_sentinels_are_parsed_and_every_client_is_pointed_at_them():
    loaded = config(
        FAIRSLOT_REDIS_SENTINELS="s1:26379, [::1]:26380,10.0.0.3:26381",
        FAIRSLOT_REDIS_SENTINEL_SERVICE="queue",
        FAIRSLOT_REDIS_URL="redis://:p%40ss@ignored/3",
    )
    target = redis_target(loaded)
    assert target is not None and uses_real_redis(loaded)
    assert target.sentinels == (("s1", 26379), ("::1", 26380), ("10.0.0.3", 26381))
    assert (target.service, target.db, target.password) == ("queue", 3, "p@ss")
    uri = "redis+sentinel://s1:26379,[::1]:26380,10.0.0.3:26381/queue"
    assert target.limiter_uri() == uri
    assert (target.limiter_options()["db"], target.limiter_options()["password"]) == (3, "p@ss")
    assert target.limiter_options()["use_replicas"] is False  # a replica's counts lag


def test_without_sentinels_the_url_alone_and_without_either_fakeredis():
    assert redis_target(config(FAIRSLOT_REDIS_URL="redis://cache:6379/2")).limiter_uri() == (
        "redis://cache:6379/2"
    )
    assert redis_target(config()) is None and not uses_real_redis(config())
    # Sentinels without a URL: database 0, no password.
    target = redis_target(config(FAIRSLOT_REDIS_SENTINELS="s1:26379"))
    assert (target.db, target.password, target.service) == (0, None, "fairslot")


@pytest.mark.parametrize(
    "value",
    ["s1", "s1:", "s1:0", "s1:65536", "s1:port", "http://s1:26379", "s1:26379/0", "s\x001:2"],
)
def test_malformed_sentinels_are_refused_at_start_up(value):
    with pytest.raises(ConfigError, match="FAIRSLOT_REDIS_SENTINELS"):
        config(FAIRSLOT_REDIS_SENTINELS=value)
