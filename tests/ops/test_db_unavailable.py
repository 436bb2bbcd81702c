"""A database that goes away mid-request (a restart, a failover) answers 503 with Retry-After,
on pages and in the API, never 500; a real bug still answers 500."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from booking.db import is_unavailable

GONE = [
    psycopg.OperationalError("connection failed: connection to server at 127.0.0.1 refused"),
    psycopg.errors.AdminShutdown("terminating connection due to unexpected postmaster exit"),
    psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
]


def failing(app, endpoint, exc):
    def view(*args, **kwargs):
        raise exc

    app.view_functions[endpoint] = view


@pytest.mark.parametrize("orig", GONE, ids=["refused", "shutdown", "read-only"])
def test_a_database_gone_mid_request_is_a_503_to_retry(app, client, orig, caplog):
    wrapped = (ProgrammingError if "read-only" in str(orig) else OperationalError)("SQL", {}, orig)
    assert is_unavailable(wrapped)
    failing(app, "health.healthz", wrapped)
    page = client.get("/healthz")
    assert (page.status_code, page.headers["Retry-After"]) == (503, "5")
    failing(app, "api.list_clinics", wrapped)
    api = client.get("/api/v1/clinics")
    assert (api.status_code, api.content_type) == (503, "application/problem+json")
    assert "database unavailable" in caplog.text


def test_a_bug_is_still_a_500(app, client):
    assert not is_unavailable(ValueError("connection"))
    assert not is_unavailable(ProgrammingError("SQL", {}, psycopg.errors.UndefinedColumn("x")))
    failing(app, "health.healthz", ValueError("a bug"))
    assert client.get("/healthz").status_code == 500
