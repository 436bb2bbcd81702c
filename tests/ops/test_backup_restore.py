"""Backups: the shipped routine (deploy/backup/fairslot-backup) dumps a populated database, and
the dump restored into a fresh database has every booking, hold and outbox message, and the app
runs on it (its sequences too: a new booking after the restore takes a new id).

PostgreSQL only (the embedded run has no pg_dump to test); two scratch databases with unique
names are created on the test server and dropped after.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from booking.migrate import upgrade
from tests.conftest import TEST_DATABASE_URL, make_app
from tests.support import person_json
from tests.waiting.support import add_slots, api_confirm, api_hold

ROOT = Path(__file__).resolve().parents[2]
BACKUP = ROOT / "deploy" / "backup" / "fairslot-backup"
# What must come back identical, row for row and column for column.
TABLES = ("clinic", "slot", "reservation", "outbox_message", "outbox_delivery", "alembic_version")


@pytest.fixture
def scratch():
    """Make scratch databases on the test server (dropped after); yield a factory of URLs."""
    if not TEST_DATABASE_URL:
        pytest.skip("backups are tested on PostgreSQL (the real-services run)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        if os.environ.get("CI"):
            pytest.fail("pg_dump/pg_restore are missing: .ci/run installs postgresql-client")
        pytest.skip("pg_dump and pg_restore are not installed")
    base = TEST_DATABASE_URL.rsplit("/", 1)[0]
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def new() -> str:
        name = f"fairslot_scratch_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        made.append(name)
        return f"{base}/{name}"

    yield new
    with admin.connect() as connection:
        for name in made:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def snapshot(url):
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {
            table: sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}")))
            for table in TABLES
        }
    engine.dispose()
    return rows


def test_a_dump_of_a_populated_database_restores_whole_and_the_app_runs_on_it(
    scratch, clock, tmp_path
):
    source = scratch()
    upgrade(source)
    app = make_app(source, clock, tmp_path, REDIS_URL=None)
    first, second = add_slots(app, clock(), 3, 3)
    client = app.test_client()
    for n in range(2):  # two bookings, each with its confirmation in the outbox
        held = api_hold(client, first)
        confirmed = api_confirm(client, held.get_json()["hold_id"], person_json(n))
        assert confirmed.status_code == 201, confirmed.get_data(as_text=True)[:500]
    assert api_hold(client, second).status_code == 201  # a hold left open
    with app.app_context():
        from booking.db import db

        db.engine.dispose()
    before = snapshot(source)
    statuses = [row for row in before["reservation"] if "held" in row or "confirmed" in row]
    assert len(statuses) == 3  # two bookings and the open hold
    assert before["outbox_message"], "the bookings queued no messages"

    backups = tmp_path / "backups"
    env = {**os.environ, "FAIRSLOT_DATABASE_URL": source, "FAIRSLOT_BACKUP_DIR": str(backups)}
    subprocess.run([str(BACKUP)], env=env, check=True, capture_output=True, timeout=120)
    (dump,) = backups.glob("fairslot-*.dump")

    target = scratch()
    dsn = target.replace("postgresql+psycopg:", "postgresql:")
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", dsn, dump],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert snapshot(target) == before

    restored = make_app(target, clock, tmp_path, REDIS_URL=None)
    restored_client = restored.test_client()
    assert restored_client.get("/readyz").get_json()["status"] == "ok"
    held = api_hold(restored_client, second)
    assert held.status_code == 201
    booked = api_confirm(restored_client, held.get_json()["hold_id"], person_json(7))
    assert booked.status_code == 201, booked.get_data(as_text=True)[:500]
    after = snapshot(target)
    assert len(after["reservation"]) == len(before["reservation"]) + 1
    assert max(r[0] for r in after["reservation"]) > max(r[0] for r in before["reservation"])
    with restored.app_context():
        from booking.db import db

        db.engine.dispose()
