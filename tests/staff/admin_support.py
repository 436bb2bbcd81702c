"""Helpers for the admin console's tests."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

from booking.db import db


def statements_for(app: Flask, client: Any, path: str) -> int:
    """How many SQL statements serving ``path`` takes (it must answer 200)."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)
