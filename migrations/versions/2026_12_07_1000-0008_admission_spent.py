"""One admission, one booking: the companion flag and the spent-admission index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPENT_WHERE = "admission_ticket IS NOT NULL AND confirmed_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("companion", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    # Bookings made before this revision may share a ticket (the bug this fixes): the earliest
    # keeps it, the others lose it, so the index can be built without touching the bookings.
    op.execute(
        "UPDATE reservation SET admission_ticket = NULL WHERE admission_ticket IS NOT NULL "
        "AND confirmed_at IS NOT NULL AND id <> (SELECT min(earliest.id) FROM reservation AS earliest "
        "WHERE earliest.admission_ticket = reservation.admission_ticket "
        "AND earliest.confirmed_at IS NOT NULL)"
    )
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.create_index(
            "uq_reservation_admission_ticket_spent",
            ["admission_ticket", "companion"],
            unique=True,
            postgresql_where=sa.text(SPENT_WHERE),
            sqlite_where=sa.text(SPENT_WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_reservation_admission_ticket_spent",
            postgresql_where=sa.text(SPENT_WHERE),
            sqlite_where=sa.text(SPENT_WHERE),
        )
        batch_op.drop_column("companion")
