"""Invitation rounds written in batches: how many were eligible, who stopped waiting between the
draw and the writing, and when the writing finished (one unfinished round per vaccine).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-11 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invitation_round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eligible", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("skipped", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE invitation_round SET finished_at = created_at")
    op.create_index(
        "uq_invitation_round_service_open",
        "invitation_round",
        ["service"],
        unique=True,
        postgresql_where=sa.text("finished_at IS NULL"),
        sqlite_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_invitation_round_service_open", table_name="invitation_round")
    with op.batch_alter_table("invitation_round", schema=None) as batch_op:
        batch_op.drop_column("finished_at")
        batch_op.drop_column("skipped")
        batch_op.drop_column("eligible")
