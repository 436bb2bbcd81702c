"""The reference apps of the ceilings: a bare Flask "hello" and a bare single-statement booking.

Served by gunicorn with the same settings as FairSlot (``bench.bare_app:create_app()``). The
booking endpoint takes a place and records the booking in one statement (a CTE: conditional
UPDATE + INSERT), one round trip, autocommit.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

BOOK_SQL = """
WITH taken AS (
  UPDATE bare_slot SET booked = booked + 1
  WHERE id = %(slot)s AND booked < capacity
  RETURNING id
)
INSERT INTO bare_booking (slot_id, name, created_at)
SELECT id, %(name)s, now() FROM taken
RETURNING id
"""

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS bare_slot (
  id serial PRIMARY KEY, capacity integer NOT NULL, booked integer NOT NULL DEFAULT 0,
  CHECK (booked <= capacity)
);
CREATE TABLE IF NOT EXISTS bare_booking (
  id bigserial PRIMARY KEY, slot_id integer NOT NULL REFERENCES bare_slot (id),
  name text NOT NULL, created_at timestamptz NOT NULL
);
"""


def create_app() -> Flask:
    """The bare app; its database is BARE_DSN (a libpq connection string)."""
    app = Flask(__name__)
    state: dict[str, Any] = {}

    def connection() -> Any:
        if "conn" not in state or state["conn"].closed:
            import psycopg

            state["conn"] = psycopg.connect(os.environ["BARE_DSN"], autocommit=True)
        return state["conn"]

    @app.get("/hello")
    def hello() -> Any:
        """The lightest possible Flask answer."""
        return "hello"

    @app.post("/book")
    def book() -> Any:
        """Take one place in a slot and record who took it, in one statement."""
        body = request.get_json(silent=True) or {}
        row = (
            connection()
            .execute(BOOK_SQL, {"slot": int(body.get("slot_id", 1)), "name": str(body.get("name"))})
            .fetchone()
        )
        if row is None:
            return {"error": "full"}, 409
        return {"booking_id": row[0]}, 201

    return app
