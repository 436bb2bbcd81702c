"""The schema: the database itself refuses impossible data, and the migrations build the models.

The constraint tests go around the services with raw SQL, the way a bad script or a future bug
would: the database is the last line of defence and must hold on its own.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, text

from booking.migrate import downgrade, upgrade
from booking.models import Base
from booking.services import holds, reservations
from tests.conftest import TEST_DATABASE_URL
from tests.support import ANSWERS, make_clinic, make_slot, person, refuse

SECRET = "schema-test-secret"
TABLES = {"clinic", "slot", "reservation", "vaccine_product"}


# --- The database refuses what the services must never do --------------------------------


def counters(session: Any, slot_id: int) -> tuple[int, int, int]:
    row = session.execute(
        text("SELECT capacity, held, booked FROM slot WHERE id = :id"), {"id": slot_id}
    ).one()
    return tuple(row)


@pytest.fixture
def full_slot(session, now):
    """A slot of capacity 2 with one hold and one confirmed booking."""
    slot = make_slot(session, make_clinic(session, now), now + timedelta(days=1), capacity=2)
    holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    held = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    reservations.confirm_hold(
        session,
        held.hold_token,
        person(1),
        now=now,
        secret_key=SECRET,
        answers=ANSWERS,
        admission_ticket=None,
    )
    session.flush()
    assert counters(session, slot.id) == (2, 1, 1)
    return slot


def test_raw_updates_past_capacity_are_refused(session, full_slot):
    # Either check refuses it (the invitees' one counts held and booked too); the first one
    # PostgreSQL meets is named.
    ck = ("ck_slot_not_overbooked", "ck_slot_invite_reserved_in_capacity")
    refuse(session, "UPDATE slot SET held = held + 1 WHERE id = :id", *ck, id=full_slot.id)
    refuse(session, "UPDATE slot SET booked = booked + 1 WHERE id = :id", *ck, id=full_slot.id)
    refuse(session, "UPDATE slot SET capacity = 1 WHERE id = :id", *ck, id=full_slot.id)
    refuse(
        session,
        "UPDATE slot SET invite_reserved = 1 WHERE id = :id",
        "ck_slot_invite_reserved_in_capacity",
        id=full_slot.id,
    )
    assert counters(session, full_slot.id) == (2, 1, 1)
    # Control: the same statements are accepted while there is room.
    session.execute(text("UPDATE slot SET capacity = 3 WHERE id = :id"), {"id": full_slot.id})
    session.execute(text("UPDATE slot SET held = held + 1 WHERE id = :id"), {"id": full_slot.id})
    assert counters(session, full_slot.id) == (3, 2, 1)


def test_negative_counters_are_refused(session, full_slot):
    refuse(
        session,
        "UPDATE slot SET held = -1 WHERE id = :id",
        "ck_slot_held_not_negative",
        id=full_slot.id,
    )
    refuse(
        session,
        "UPDATE slot SET booked = -1 WHERE id = :id",
        "ck_slot_booked_not_negative",
        id=full_slot.id,
    )
    refuse(
        session,
        "UPDATE slot SET held = held - 2 WHERE id = :id",
        "ck_slot_held_not_negative",
        id=full_slot.id,
    )
    assert counters(session, full_slot.id) == (2, 1, 1)


def test_a_duplicate_slot_is_refused(session, now):
    clinic = make_clinic(session, now)
    slot = make_slot(session, clinic, now + timedelta(days=1))
    copy = (
        "INSERT INTO slot (clinic_id, service, product_id, starts_at, ends_at, capacity, held, "
        "booked, is_open, created_at) SELECT clinic_id, service, {product}, starts_at, ends_at, "
        "capacity, 0, 0, is_open, created_at FROM slot WHERE id = :id"
    )
    refuse(
        session,
        copy.format(product="product_id"),
        "uq_slot_clinic_id_starts_at_product_id",  # PostgreSQL names the constraint
        "slot.clinic_id, slot.starts_at, slot.product_id",  # SQLite names the columns
        id=slot.id,
    )
    # Control: the same clinic and time for another product of the vaccine is a different slot.
    other = "(SELECT id FROM vaccine_product WHERE key = 'moderna-covid19')"
    session.execute(text(copy.format(product=other)), {"id": slot.id})
    assert (
        session.scalar(text("SELECT count(*) FROM slot WHERE clinic_id = :c"), {"c": clinic.id})
        == 2
    )


def test_a_second_confirmed_reservation_for_one_person_and_service_is_refused(session, now):
    clinic = make_clinic(session, now)
    first_slot = make_slot(session, clinic, now + timedelta(days=1))
    second_slot = make_slot(session, clinic, now + timedelta(days=2))
    first = holds.place_hold(session, first_slot.id, now=now, hold_minutes=10)
    reservations.confirm_hold(
        session,
        first.hold_token,
        person(1),
        now=now,
        secret_key=SECRET,
        answers=ANSWERS,
        admission_ticket=None,
    )
    second = holds.place_hold(session, second_slot.id, now=now, hold_minutes=10)
    session.flush()
    copy_person = (
        "UPDATE reservation SET status = :status, person_key = :key, confirmation_code = :code, "
        "date_of_birth = (SELECT date_of_birth FROM reservation WHERE id = :first), "
        "phone = '+16175550123' WHERE id = :second"
    )
    params = {"key": person(1).key, "code": "ZZZZ2345", "first": first.id, "second": second.id}
    refuse(
        session,
        copy_person,
        "uq_reservation_person_key_service_dose_confirmed",  # PostgreSQL
        "reservation.person_key, reservation.service, reservation.dose_number",  # SQLite
        status="confirmed",
        **params,
    )
    # Control: the index is partial; the same person may have a cancelled reservation too.
    session.execute(text(copy_person), {"status": "cancelled", **params})
    statuses = session.scalars(
        text("SELECT status FROM reservation WHERE person_key = :key ORDER BY id"),
        {"key": person(1).key},
    ).all()
    assert statuses == ["confirmed", "cancelled"]


def test_a_booked_reservation_must_name_a_reachable_person(session, now):
    slot = make_slot(session, make_clinic(session, now), now + timedelta(days=1))
    held = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    done = reservations.confirm_hold(
        session,
        held.hold_token,
        person(1),
        now=now,
        secret_key=SECRET,
        answers=ANSWERS,
        admission_ticket=None,
    )
    other = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    session.flush()
    ck = "ck_reservation_booked_has_person"
    for status in ("confirmed", "checked_in", "no_show"):
        refuse(
            session, "UPDATE reservation SET status = :s WHERE id = :id", ck, s=status, id=other.id
        )
    refuse(
        session,
        "UPDATE reservation SET phone = NULL, email = NULL WHERE id = :id",
        ck,
        id=done.reservation.id,
    )
    refuse(
        session,
        "UPDATE reservation SET person_key = NULL WHERE id = :id",
        ck,
        id=done.reservation.id,
    )
    # Control: a booked reservation reachable by email alone is fine.
    session.execute(
        text("UPDATE reservation SET phone = NULL, email = 'a@example.com' WHERE id = :id"),
        {"id": done.reservation.id},
    )


def test_unknown_statuses_are_refused(session, now):
    slot = make_slot(session, make_clinic(session, now), now + timedelta(days=1))
    held = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    session.flush()
    refuse(
        session,
        "UPDATE reservation SET status = 'booked' WHERE id = :id",
        "ck_reservation_status_known",
        id=held.id,
    )


# --- The migrations build exactly the models ------------------------------------------------


def schema_diff(connection: Any, metadata: MetaData = Base.metadata) -> list[Any]:
    """Alembic's autogenerate comparison of a live database with ``metadata``."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, metadata)


def _sql(clause: Any) -> str:
    """Normalize SQL text so PostgreSQL's rewritten form compares equal to the model's."""
    return re.sub(r"::\w+|[()\s]", "", str(clause)).lower()


def constraints_and_partial_indexes(connection: Any) -> dict[str, Any]:
    """What autogenerate does not compare: CHECK constraint names and partial-index predicates."""
    inspector = inspect(connection)
    dialect = connection.dialect.name
    found: dict[str, Any] = {}
    for table in sorted(TABLES):
        found[table] = {
            "checks": sorted(c["name"] for c in inspector.get_check_constraints(table)),
            "partial": sorted(
                (ix["name"], _sql(ix["dialect_options"][f"{dialect}_where"]))
                for ix in inspector.get_indexes(table)
                if f"{dialect}_where" in ix.get("dialect_options", {})
            ),
        }
    return found


def constraints_in_models(dialect: str) -> dict[str, Any]:
    expected: dict[str, Any] = {}
    for table in sorted(TABLES):
        model = Base.metadata.tables[table]
        expected[table] = {
            "checks": sorted(
                str(c.name) for c in model.constraints if type(c).__name__ == "CheckConstraint"
            ),
            "partial": sorted(
                (str(ix.name), _sql(ix.dialect_options[dialect].get("where")))
                for ix in model.indexes
                if ix.dialect_options[dialect].get("where") is not None
            ),
        }
    return expected


def assert_schema_is_the_models(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert schema_diff(connection) == []
            found = constraints_and_partial_indexes(connection)
            expected = constraints_in_models(connection.dialect.name)
            assert found == expected
            # Not vacuous: the comparison did see the rules the booking relies on.
            assert "ck_slot_not_overbooked" in expected["slot"]["checks"]
            assert (
                "uq_reservation_person_key_service_dose_confirmed",
                "status='confirmed'",
            ) in expected["reservation"]["partial"]
    finally:
        engine.dispose()


def test_the_migrated_database_is_exactly_the_models(database_url):
    assert_schema_is_the_models(database_url)


def test_the_comparison_notices_a_difference(database_url):
    # Guard against a comparison that always answers "no difference".
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["slot"].append_column(Column("waitlist", Integer, nullable=True))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            diff = schema_diff(connection, metadata)
    finally:
        engine.dispose()
    # Each entry is ("add_column", schema, table, column).
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "slot", "waitlist")]


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again_on_a_fresh_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'cycle.sqlite3'}"
    upgrade(url)
    assert_schema_is_the_models(url)
    downgrade(url, "base")
    assert table_names(url) == {"alembic_version"}
    upgrade(url)
    assert_schema_is_the_models(url)
    assert table_names(url) >= TABLES


@pytest.fixture
def scratch_schema_url() -> Any:
    """A PostgreSQL URL whose search_path is an empty schema of its own (dropped after)."""
    if not TEST_DATABASE_URL:
        pytest.skip("runs on PostgreSQL (set FAIRSLOT_TEST_DATABASE_URL)")
    name = "fairslot_migration_cycle"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {name}"))
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    yield f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    admin.dispose()


def test_downgrade_to_base_and_upgrade_again_on_postgresql(scratch_schema_url):
    url = scratch_schema_url
    upgrade(url)
    assert table_names(url) >= TABLES
    assert_schema_is_the_models(url)
    downgrade(url, "base")
    assert table_names(url) == {"alembic_version"}
    upgrade(url)
    assert_schema_is_the_models(url)
