"""Per clinic-day free counts kept by triggers on slot, so search reads one row per clinic-day.

Every slot write appends signed deltas to slot_day_delta in the same transaction (PostgreSQL:
statement triggers over the transition tables, one grouped INSERT per statement; SQLite: row
triggers). Appending takes no row lock another writer waits on; housekeeping folds the deltas
into slot_day_count. A clinic's time zone change moves its slots' counts to their new days.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "clinic_id, day, service, product_id, release_at"
COLUMNS = f"{KEY}, slots, free_held, free_released"


def _columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("free_held", sa.Integer(), nullable=False),
        sa.Column("free_released", sa.Integer(), nullable=False),
    ]


def contributions(s: str, source: str, tz: str, sign: int, *, pg: bool) -> str:
    """One row per slot ``s`` of ``source``: its signed share of its clinic-day's counts."""
    day = (
        f"(({s}.starts_at AT TIME ZONE {tz})::date)"
        if pg
        else f"fairslot_local_day({s}.starts_at, {tz})"
    )
    epoch = "'epoch'::timestamptz" if pg else "'1970-01-01 00:00:00.000000'"
    biggest = "greatest" if pg else "max"
    phone = f"CASE WHEN {s}.phone_release_at IS NOT NULL THEN {s}.phone_reserved ELSE 0 END"
    taken = f"{s}.invite_reserved - {s}.held - {s}.booked"
    return f"""
        SELECT clinic_id, day, service, product_id,
               CASE WHEN fh <> fr THEN phone_release_at ELSE {epoch} END AS release_at,
               {sign} AS slots, {sign} * fh AS free_held, {sign} * fr AS free_released
        FROM (
          SELECT {s}.clinic_id AS clinic_id, {day} AS day, {s}.service AS service,
                 {s}.product_id AS product_id, {s}.phone_release_at AS phone_release_at,
                 CASE WHEN {s}.is_open THEN {biggest}(0, {s}.capacity - {phone} - {taken})
                      ELSE 0 END AS fh,
                 CASE WHEN {s}.is_open THEN {biggest}(0, {s}.capacity - {taken}) ELSE 0 END AS fr
          {source}
        ) AS one"""  # noqa: S608 (constants)


def grouped_insert(parts: list[str]) -> str:
    """Append the parts' sums per key, leaving out keys they do not change."""
    union = " UNION ALL ".join(parts)
    return f"""
        INSERT INTO slot_day_delta ({COLUMNS})
        SELECT {KEY}, sum(slots), sum(free_held), sum(free_released)
        FROM ({union}) AS parts
        WHERE true
        GROUP BY {KEY}
        HAVING sum(slots) <> 0 OR sum(free_held) <> 0 OR sum(free_released) <> 0"""  # noqa: S608 (constants)


def _pg_triggers() -> list[str]:
    def rows(table: str, sign: int) -> str:
        source = f"FROM {table} s JOIN clinic c ON c.id = s.clinic_id"
        return contributions("s", source, "c.timezone", sign, pg=True)

    bodies = {
        "insert": grouped_insert([rows("new_rows", 1)]),
        "update": grouped_insert([rows("old_rows", -1), rows("new_rows", 1)]),
        "delete": grouped_insert([rows("old_rows", -1)]),
    }
    tables = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }
    statements = []
    for event, body in bodies.items():
        statements += [
            f"""CREATE FUNCTION slot_day_delta_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN {body}; RETURN NULL; END $$""",
            f"""CREATE TRIGGER slot_day_delta_{event} AFTER {event.upper()} ON slot
                REFERENCING {tables[event]} FOR EACH STATEMENT
                EXECUTE FUNCTION slot_day_delta_{event}()""",
        ]
    moved = grouped_insert(
        [
            contributions(
                "s", "FROM slot s WHERE s.clinic_id = NEW.id", "OLD.timezone", -1, pg=True
            ),
            contributions(
                "s", "FROM slot s WHERE s.clinic_id = NEW.id", "NEW.timezone", 1, pg=True
            ),
        ]
    )
    statements += [
        f"""CREATE FUNCTION slot_day_clinic_timezone() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              -- Wait for writers of the clinic's slots, then count every slot as it stands.
              PERFORM 1 FROM slot WHERE clinic_id = NEW.id FOR UPDATE;
              {moved};
              RETURN NULL;
            END $$""",
        """CREATE TRIGGER slot_day_clinic_timezone AFTER UPDATE OF timezone ON clinic
           FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
           EXECUTE FUNCTION slot_day_clinic_timezone()""",
    ]
    return statements


def _sqlite_triggers() -> list[str]:
    def rows(record: str, sign: int) -> str:
        source = f"FROM clinic c WHERE c.id = {record}.clinic_id"
        return contributions(record, source, "c.timezone", sign, pg=False)

    bodies = {
        "insert": grouped_insert([rows("NEW", 1)]),
        "update": grouped_insert([rows("OLD", -1), rows("NEW", 1)]),
        "delete": grouped_insert([rows("OLD", -1)]),
    }
    statements = [
        f"CREATE TRIGGER slot_day_delta_{event} AFTER {event.upper()} ON slot FOR EACH ROW "
        f"BEGIN {body}; END"
        for event, body in bodies.items()
    ]
    moved = grouped_insert(
        [
            contributions(
                "s", "FROM slot s WHERE s.clinic_id = NEW.id", "OLD.timezone", -1, pg=False
            ),
            contributions(
                "s", "FROM slot s WHERE s.clinic_id = NEW.id", "NEW.timezone", 1, pg=False
            ),
        ]
    )
    statements.append(
        "CREATE TRIGGER slot_day_clinic_timezone AFTER UPDATE OF timezone ON clinic "
        f"FOR EACH ROW WHEN OLD.timezone IS NOT NEW.timezone BEGIN {moved}; END"
    )
    return statements


def upgrade() -> None:
    op.create_table(
        "slot_day_count",
        *_columns(),
        sa.PrimaryKeyConstraint(
            "clinic_id",
            "day",
            "service",
            "product_id",
            "release_at",
            name=op.f("pk_slot_day_count"),
        ),
    )
    op.create_table(
        "slot_day_delta",
        sa.Column("id", sa.Integer(), nullable=False),
        *_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_day_delta")),
    )
    op.create_index("ix_slot_day_delta_clinic_id_day", "slot_day_delta", ["clinic_id", "day"])
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in _pg_triggers() if pg else _sqlite_triggers():
        op.execute(statement)
    existing = contributions(
        "s", "FROM slot s JOIN clinic c ON c.id = s.clinic_id", "c.timezone", 1, pg=pg
    )
    backfill = f"""INSERT INTO slot_day_count ({COLUMNS})
        SELECT {KEY}, sum(slots), sum(free_held), sum(free_released) FROM ({existing}) AS e
        GROUP BY {KEY}"""  # noqa: S608 (constants)
    op.execute(backfill)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER slot_day_clinic_timezone ON clinic")
        op.execute("DROP FUNCTION slot_day_clinic_timezone()")
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER slot_day_delta_{event} ON slot")
            op.execute(f"DROP FUNCTION slot_day_delta_{event}()")
    else:
        op.execute("DROP TRIGGER slot_day_clinic_timezone")
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER slot_day_delta_{event}")
    op.drop_index("ix_slot_day_delta_clinic_id_day", table_name="slot_day_delta")
    op.drop_table("slot_day_delta")
    op.drop_table("slot_day_count")
