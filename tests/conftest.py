"""Test fixtures: a migrated database (PostgreSQL in CI, SQLite otherwise) and Redis.

With FAIRSLOT_TEST_DATABASE_URL / FAIRSLOT_TEST_REDIS_URL set, tests run on those real servers;
otherwise on the embedded default (a SQLite file and fakeredis). The schema is built by running
the Alembic migrations. Each test runs inside a transaction that is rolled back at the end
(the app's commits only release savepoints); tests that need real commits across connections
(threads, processes) use ``committed_app`` and the tables are emptied afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy import create_engine, text

from booking import create_app
from booking.db import db
from booking.migrate import upgrade
from booking.services import staff
from tests.staff.agent_support import make_accounts
from tests.staff.agent_support import sign_in as agent_sign_in
from tests.staff.support import PASSWORD
from tests.support import Clock, make_clinic

pytest_plugins = ["tests.openapi_check"]  # every /api/v1/ response is checked against the document

# Argon2id at its smallest cost, for the accounts the tests make.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
TEST_DATABASE_URL = os.environ.get("FAIRSLOT_TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("FAIRSLOT_TEST_REDIS_URL") or None
# Children before parents: SQLite empties them with DELETE, in this order.
TABLES = (
    "clinic_api_batch",
    "clinic_api_key_clinic",
    "clinic_api_key",
    "invitation",
    "invitation_round",
    "preregistration",
    "provider_slot",
    "provider_location",
    "provider_feed",
    "outbox_delivery",
    "outbox_message",
    "reservation",
    "slot",
    "clinic",
    "slot_day_delta",
    "slot_day_count",
)


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


def flush_test_redis() -> None:
    """Empty the shared test Redis database (nothing to do on fakeredis)."""
    if TEST_REDIS_URL:
        import redis

        redis.Redis.from_url(TEST_REDIS_URL).flushdb()


class _SharedTemplateCode(BytecodeCache):
    """Compiled templates kept for the session: every test builds its own app, and compiling
    each page's templates again for each one was a large share of the suite's time. Jinja checks
    the source's checksum before using a bucket, so an edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _SharedTemplateCode()


def make_app(database_url: str, clock: Clock, tmp_path: Any, **overrides: Any) -> Flask:
    """Create a test app on the session's database and Redis."""
    config = {
        "FAIRSLOT_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "CLOCK": clock,
        "SERVER_NAME": "fairslot.test",
        "PUBLIC_URL": "http://fairslot.test",  # the one host served, and every link's
        "QUEUE_MODE": "off",  # the waiting-room tests turn it on
    }
    config.update(overrides)
    application = create_app(config)
    application.jinja_env.bytecode_cache = TEMPLATE_CODE
    return application


@contextmanager
def rolled_back_app(
    database_url: str, clock: Clock, tmp_path: Any, **overrides: Any
) -> Iterator[Flask]:
    """A test app (with config overrides) whose database work is rolled back on leaving."""
    flush_test_redis()
    application = make_app(database_url, clock, tmp_path, **overrides)
    with application.app_context():
        engine = db.engine
    connection = engine.connect()
    outer = connection.begin()
    db.bind_connection(application, connection)
    try:
        yield application
    finally:
        outer.rollback()
        connection.close()
        engine.dispose()


class AppFactory:
    """Build rolled-back apps, ``factory(**config)`` over the defaults; ``close`` rolls all back."""

    def __init__(self, database_url: str, clock: Clock, tmp_path: Any, **defaults: Any) -> None:
        self.database_url = database_url
        self.clock = clock
        self.tmp_path = tmp_path
        self.defaults = defaults
        self._open = ExitStack()

    def __call__(self, **overrides: Any) -> Flask:
        config = {**self.defaults, **overrides}
        app = rolled_back_app(self.database_url, self.clock, self.tmp_path, **config)
        return self._open.enter_context(app)

    def close(self) -> None:
        self._open.close()


@pytest.fixture
def app(database_url: str, clock: Clock, tmp_path: Any) -> Iterator[Flask]:
    """An app whose work is rolled back after the test."""
    with rolled_back_app(database_url, clock, tmp_path) as application:
        yield application


@pytest.fixture
def committed(database_url: str, clock: Clock, tmp_path: Any) -> Iterator[Callable[..., Flask]]:
    """Build apps that really commit (for threads and processes), with extra config; the
    tables are emptied after."""
    flush_test_redis()
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        application = make_app(database_url, clock, tmp_path, DB_POOL_SIZE=20, **overrides)
        apps.append(application)
        return application

    yield build
    for application in apps:
        with application.app_context():
            truncate(db.engine)
            db.engine.dispose()


@pytest.fixture
def committed_app(committed: Callable[..., Flask]) -> Flask:
    """An app that really commits (for threads and processes); tables are emptied after."""
    return committed()


def truncate(engine: Any) -> None:
    """Empty the tables (PostgreSQL: TRUNCATE; SQLite: DELETE)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                if table == "reservation":
                    # A dose 2 points at its dose 1 (ON DELETE RESTRICT, checked row by row).
                    connection.execute(text("DELETE FROM reservation WHERE course_id IS NOT NULL"))
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


@pytest.fixture
def accounts(app: Flask, clock: Clock) -> dict[str, tuple[int, str]]:
    """An agent, a state admin (TOTP not yet enrolled) and a clinic's staff, all with
    ``tests.staff.support.PASSWORD``: role -> (user id, email)."""
    with app.app_context():
        clinic = make_clinic(db.session, clock())
        made = {
            key: staff.create_user(
                db.session,
                email=email,
                display_name=name,
                role=role,
                password=PASSWORD,
                now=clock(),
                clinic_ids=(clinic.id,) if role == "clinic_staff" else (),
            )
            for key, email, name, role in (
                ("agent", "Agent@Example.org", "Agent", "agent"),
                ("admin", "admin@example.org", "Admin", "state_admin"),
                ("clinic", "staff@example.org", "Staff", "clinic_staff"),
            )
        }
        db.session.commit()
        return {k: (u.id, u.email) for k, u in made.items()}


@pytest.fixture
def ids(app: Flask, clock: Clock) -> dict[str, Any]:
    """The 2-1-1 console's accounts and clinic (``tests.staff.agent_support.make_accounts``)."""
    return make_accounts(app, clock())


@pytest.fixture
def agent(app: Flask, ids: dict[str, Any], clock: Clock) -> Any:
    """A test client signed in as the 2-1-1 console's agent."""
    return agent_sign_in(app, "agent", clock())


@pytest.fixture
def build(database_url: str, clock: Clock, tmp_path: Any) -> Iterator[AppFactory]:
    """Build apps with the waiting room on (``build(**config)``); all rolled back after."""
    factory = AppFactory(database_url, clock, tmp_path, QUEUE_MODE="always")
    yield factory
    factory.close()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2id at its smallest cost: production's parameters take a second a sign-in on a busy
    CI core, and hundreds of accounts are made here. ``test_staff_auth`` checks the real ones."""
    staff.use_password_hasher(CHEAP_HASHER)
    yield
    staff.use_password_hasher(staff.DEFAULT_HASHER)
