"""Test fixtures: a migrated database (PostgreSQL in CI, SQLite otherwise) and Redis.

With FAIRSLOT_TEST_DATABASE_URL / FAIRSLOT_TEST_REDIS_URL set, tests run on those real servers;
otherwise on the embedded default (a SQLite file and fakeredis). The schema is built by running
the Alembic migrations. Each test runs inside a transaction that is rolled back at the end
(the app's commits only release savepoints); tests that need real commits across connections
(threads, processes) use ``committed_app`` and the tables are emptied afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from booking import create_app
from booking.db import db
from booking.migrate import upgrade
from tests.support import Clock

pytest_plugins = ["tests.openapi_check"]  # every /api/v1/ response is checked against the document

TEST_DATABASE_URL = os.environ.get("FAIRSLOT_TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("FAIRSLOT_TEST_REDIS_URL") or None
# Children before parents: SQLite empties them with DELETE, in this order.
TABLES = ("outbox_delivery", "outbox_message", "reservation", "slot", "clinic")


def pytest_report_header() -> list[str]:
    database = "PostgreSQL (FAIRSLOT_TEST_DATABASE_URL)" if TEST_DATABASE_URL else "SQLite"
    redis = "real (FAIRSLOT_TEST_REDIS_URL)" if TEST_REDIS_URL else "fakeredis"
    return [f"fairslot database: {database}", f"fairslot redis: {redis}"]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database built from scratch by the migrations, once per test session."""
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'fairslot-test.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def clock() -> Clock:
    """A controllable clock, starting at a fixed, realistic moment."""
    return Clock(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))  # 08:00 in Boston, a Monday


def _flush_redis() -> None:
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()


def make_app(database_url: str, clock: Clock, tmp_path: Any, **overrides: Any) -> Flask:
    """Create a test app on the session's database and Redis."""
    config = {
        "FAIRSLOT_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "CLOCK": clock,
        "SERVER_NAME": "fairslot.test",
        "QUEUE_MODE": "off",  # the waiting-room tests turn it on
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(database_url: str, clock: Clock, tmp_path: Any) -> Iterator[Flask]:
    """An app whose work is rolled back after the test."""
    _flush_redis()
    application = make_app(database_url, clock, tmp_path)
    with application.app_context():
        engine = db.engine
    connection = engine.connect()
    outer = connection.begin()
    db.bind_connection(application, connection)
    yield application
    outer.rollback()
    connection.close()
    engine.dispose()


@pytest.fixture
def committed_app(database_url: str, clock: Clock, tmp_path: Any) -> Iterator[Flask]:
    """An app that really commits (for threads and processes); tables are emptied after."""
    _flush_redis()
    application = make_app(database_url, clock, tmp_path, DB_POOL_SIZE=20)
    yield application
    with application.app_context():
        truncate(db.engine)
        db.engine.dispose()


def truncate(engine: Any) -> None:
    """Empty the tables (PostgreSQL: TRUNCATE; SQLite: DELETE)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    """The app's session inside an app context, for service-level tests."""
    with app.app_context():
        yield db.session


@pytest.fixture
def client(app: Flask) -> Any:
    """A test client for the rolled-back app."""
    return app.test_client()


@pytest.fixture
def now(clock: Clock) -> datetime:
    """The test clock's current time."""
    return clock()


@pytest.fixture
def later(clock: Clock) -> Any:
    """Advance the test clock: ``later(minutes=11)``."""

    def advance(**delta: float) -> datetime:
        clock.advance(timedelta(**delta))
        return clock()

    return advance
