"""The database extension: one engine per app, one session per request, commits at the edge.

Services receive a ``Session`` and never commit; views and jobs call ``transaction()``, which
commits once and retries the whole unit of work when the database reports a transient conflict
(a serialization failure at REPEATABLE READ, a deadlock, or SQLite's writer lock).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from booking.models.counts import local_day_text
from booking.services.errors import DomainError

# What a unit of work leaves for the after-commit hooks (messages to enqueue): handed to the
# hooks once the commit succeeded and dropped when the work rolls back.
from booking.services.notices import AFTER_COMMIT

log = logging.getLogger(__name__)
T = TypeVar("T")

_EXT = "fairslot.db"
# SQLSTATEs that mean "run the transaction again": serialization failure and deadlock.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


def make_engine(url: str, *, pool_size: int = 10, isolation_level: str | None = None) -> Engine:
    """Create an engine tuned for the backend: WAL and immediate transactions on SQLite."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=pool_size
        )
        _configure_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size,
        "pool_pre_ping": True,
        "pool_timeout": 30,
        # Fail fast when the server is unreachable, so /readyz and requests answer promptly.
        "connect_args": {"connect_timeout": 5},
    }
    if isolation_level:
        kwargs["isolation_level"] = isolation_level
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """Make pysqlite transactional in the way PostgreSQL is.

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we take it over.
    Every transaction begins IMMEDIATE, taking SQLite's single writer lock up front, so a
    read-then-write never fails halfway with SQLITE_BUSY and concurrent writers queue instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # The slot triggers' local day (migration 0016): SQLite has no time zones of its own.
        dbapi_connection.create_function(
            "fairslot_local_day", 2, local_day_text, deterministic=True
        )
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# admin_shutdown, crash_shutdown, cannot_connect_now, read_only_sql_transaction
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "25006"})


def is_retryable(exc: BaseException) -> bool:
    """Tell whether a database error is a transient conflict worth retrying."""
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            return True
    return False


def is_unavailable(exc: BaseException) -> bool:
    """Tell whether a database error means the server is gone or not taking writes now.

    A killed or restarting server, or one that is (still) a read-only replica during a failover:
    the request failed whole and may be tried again in a moment.
    """
    if not isinstance(exc, DBAPIError) or is_retryable(exc):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _UNAVAILABLE_SQLSTATES:
        return True
    # A failed connect has no SQLSTATE; psycopg raises OperationalError for it.
    return isinstance(exc, OperationalError) and sqlstate is None and "connection" in str(exc.orig)


class Database:
    """Flask extension holding the engine and handing out request-scoped sessions."""

    def init_app(self, app: Flask) -> None:
        """Create the app's engine from DATABASE_URL and close sessions at teardown."""
        engine = make_engine(
            app.config["DATABASE_URL"],
            pool_size=app.config["DB_POOL_SIZE"],
            isolation_level=app.config.get("DB_ISOLATION_LEVEL"),
        )
        app.extensions[_EXT] = _State(engine)
        app.teardown_appcontext(self._teardown)

    def on_commit(self, app: Flask, hook: Callable[[Session], None]) -> None:
        """Call ``hook(session)`` after each ``transaction()`` commits (jobs are enqueued there)."""
        app.extensions[_EXT].commit_hooks.append(hook)

    @staticmethod
    def _state() -> _State:
        state: _State = current_app.extensions[_EXT]
        return state

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return self._state().engine

    @property
    def session(self) -> Session:
        """The session of the current request or job, created on first use."""
        session: Session | None = g.get("_fairslot_session")
        if session is None:
            session = self._state().factory()
            g._fairslot_session = session
        return session

    def bind_connection(self, app: Flask, connection: Connection | None) -> None:
        """Route the app's sessions through one connection (tests: rollback to a savepoint)."""
        state: _State = app.extensions[_EXT]
        if connection is None:
            state.factory = state.default_factory
        else:
            state.factory = sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )

    def transaction(self, work: Callable[[Session], T], *, attempts: int = 12) -> T:
        """Run ``work(session)`` and commit; retry the whole unit on transient conflicts.

        A ``DomainError`` rolls the work back, unless it says ``keeps_work``: then the work is
        committed and the error raised after it (the refusal stands, and so does the release).
        """
        session = self.session
        for attempt in range(1, attempts + 1):
            try:
                result = work(session)
                session.commit()
                self._after_commit(session)
                return result
            except DBAPIError as exc:
                session.rollback()
                session.info.pop(AFTER_COMMIT, None)
                if not is_retryable(exc) or attempt == attempts:
                    raise
                log.info("transient database conflict, retrying (attempt %d)", attempt)
                # Jittered backoff so racing transactions do not collide again in lockstep.
                # Each failure means another writer committed, so a hot slot can fail one
                # request several times in a row (a 200-way race at REPEATABLE READ did 6):
                # allow many attempts, but cap each wait so the worst case stays under a second.
                time.sleep(random.uniform(0, min(0.1, 0.005 * 2**attempt)))  # noqa: S311
            except DomainError as exc:
                if not exc.keeps_work:
                    session.rollback()
                    session.info.pop(AFTER_COMMIT, None)
                    raise
                # Refused, but what the service did first must stand (a refused confirm
                # released its hold): commit that, then answer the refusal.
                try:
                    session.commit()
                except DBAPIError as commit_exc:
                    session.rollback()
                    session.info.pop(AFTER_COMMIT, None)
                    if not is_retryable(commit_exc) or attempt == attempts:
                        raise
                    continue
                self._after_commit(session)
                raise
            except BaseException:
                session.rollback()
                session.info.pop(AFTER_COMMIT, None)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _after_commit(self, session: Session) -> None:
        # The data is durable now; a failing hook must not turn a done booking into an error
        # (what it would have done, e.g. enqueue a message, the relay does later).
        for hook in self._state().commit_hooks:
            try:
                hook(session)
            except Exception:
                log.exception("after-commit hook %r failed", hook)
        session.info.pop(AFTER_COMMIT, None)

    @staticmethod
    def _teardown(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("_fairslot_session", None)
        if session is not None:
            session.rollback()
            session.close()


class _State:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.default_factory = sessionmaker(bind=engine, expire_on_commit=False)
        self.factory = self.default_factory
        self.commit_hooks: list[Callable[[Session], None]] = []


db = Database()
