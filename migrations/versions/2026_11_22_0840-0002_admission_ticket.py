"""One live hold per admitted waiting-room ticket.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admission_ticket", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "uq_reservation_admission_ticket_held",
            ["admission_ticket"],
            unique=True,
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_reservation_admission_ticket_held",
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )
        batch_op.drop_column("admission_ticket")
