"""The app's Redis client: a real server when FAIRSLOT_REDIS_URL is set, else in-process."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

EXTENSION = "fairslot.redis"


def make_redis(url: str | None) -> Any:
    """Create a Redis client; without a URL, an in-process fakeredis server with Lua."""
    if url:
        import redis

        # A blocking pool waits for a free connection under load instead of raising.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=50,
            timeout=5,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
        return redis.Redis(connection_pool=pool)
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def init_redis(app: Flask) -> None:
    """Attach a Redis client to the app."""
    app.extensions[EXTENSION] = make_redis(app.config.get("REDIS_URL"))


def get_redis() -> Any:
    """Return the current app's Redis client."""
    return redis_of(current_app)


def redis_of(app: Flask) -> Any:
    """Return an app's Redis client (outside a request or app context too)."""
    return app.extensions[EXTENSION]
