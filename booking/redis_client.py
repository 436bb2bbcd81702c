"""The app's Redis clients: one server (FAIRSLOT_REDIS_URL), Sentinel, or in-process fakeredis.

With ``FAIRSLOT_REDIS_SENTINELS`` set, every client the app makes (the queue, the rate limits,
RQ, the open-data cache) asks the sentinels which server is the primary of
``FAIRSLOT_REDIS_SENTINEL_SERVICE`` and follows it when they fail it over; FAIRSLOT_REDIS_URL
then gives only the database number and password (its host is not used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from flask import Flask, current_app
from redis.sentinel import Sentinel, SentinelConnectionPool

EXTENSION = "fairslot.redis"


@dataclass(frozen=True)
class RedisTarget:
    """Where the app's Redis is: one URL, or the sentinels of a service (db and password)."""

    url: str | None
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""

    @property
    def db(self) -> int:
        """The database number, from the URL's path (0 when none)."""
        path = urlsplit(self.url or "").path.strip("/")
        return int(path) if path.isdigit() else 0

    @property
    def password(self) -> str | None:
        """The password in the URL, if any (it applies to the Redis servers, not the sentinels)."""
        password = urlsplit(self.url or "").password
        return unquote(password) if password is not None else None

    def limiter_uri(self) -> str:
        """The rate limiter's storage URI (flask-limiter speaks ``redis+sentinel://``)."""
        if not self.sentinels:
            return self.url or "memory://"
        hosts = ",".join(
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.sentinels
        )
        # The password goes in the options: the limiter would not unquote it from the URI.
        return f"redis+sentinel://{hosts}/{self.service}"

    def limiter_options(self) -> dict[str, Any]:
        """Connection options for the limiter's sentinel storage (primary only, this db)."""
        options = {"db": self.db, "use_replicas": False, "sentinel_kwargs": _SENTINEL_TIMEOUTS}
        return options | ({"password": self.password} if self.password else {})


# How long to wait for a sentinel's answer: short, so a dead sentinel costs little.
_SENTINEL_TIMEOUTS: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


class BlockingSentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """The sentinels' pool (it asks them for the primary again), waiting when all are busy."""


def redis_target(config: Mapping[str, Any]) -> RedisTarget | None:
    """The configured Redis, or None for the in-process fakeredis."""
    sentinels = tuple(config.get("REDIS_SENTINELS") or ())
    if sentinels:
        return RedisTarget(config.get("REDIS_URL"), sentinels, config["REDIS_SENTINEL_SERVICE"])
    url = config.get("REDIS_URL")
    return RedisTarget(url) if url else None


def uses_real_redis(config: Mapping[str, Any]) -> bool:
    """Whether the app talks to a Redis server (so other processes share it)."""
    return redis_target(config) is not None


def connect(target: RedisTarget, *, blocking: bool = True, **options: Any) -> Any:
    """A client of ``target``; with ``blocking``, a pool that waits for a free connection."""
    if not target.sentinels:
        assert target.url
        if not blocking:
            return redis.Redis.from_url(target.url, **options)
        pool = redis.BlockingConnectionPool.from_url(target.url, **options)
        return redis.Redis(connection_pool=pool)

    # redis-py's Sentinel is untyped.
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=dict(_SENTINEL_TIMEOUTS))  # type: ignore[no-untyped-call]
    pool_class = BlockingSentinelPool if blocking else SentinelConnectionPool
    return sentinel.master_for(  # type: ignore[no-untyped-call]
        target.service,
        connection_pool_class=pool_class,
        db=target.db,
        password=target.password,
        **options,
    )


def make_redis(target: RedisTarget | str | None) -> Any:
    """Create the app's Redis client; without a target, an in-process fakeredis with Lua."""
    if isinstance(target, str):
        target = RedisTarget(target)
    if target is not None:
        # A blocking pool waits for a free connection under load instead of raising.
        return connect(
            target,
            max_connections=50,
            timeout=5,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def init_redis(app: Flask) -> None:
    """Attach a Redis client to the app."""
    app.extensions[EXTENSION] = make_redis(redis_target(app.config))


def get_redis() -> Any:
    """Return the current app's Redis client."""
    return redis_of(current_app)


def redis_of(app: Flask) -> Any:
    """Return an app's Redis client (outside a request or app context too)."""
    return app.extensions[EXTENSION]
