"""Eligibility rules managed by state admins; capacity set aside for phone bookings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "eligibility_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("phase", sa.String(length=80), nullable=False),
        sa.Column("min_age_years", sa.Integer(), nullable=False),
        sa.Column("max_age_years", sa.Integer(), nullable=True),
        sa.Column(
            "requires_condition", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "state_residents_only", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "min_age_years >= 0 AND (max_age_years IS NULL OR max_age_years >= min_age_years)",
            name=op.f("ck_eligibility_rule_ages_ordered"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_rule")),
    )
    op.create_index("ix_eligibility_rule_service", "eligibility_rule", ["service"])
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone_reserved", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("phone_release_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_check_constraint(
            "phone_reserved_in_capacity", "phone_reserved >= 0 AND phone_reserved <= capacity"
        )


def downgrade() -> None:
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_slot_phone_reserved_in_capacity"), type_="check")
        batch_op.drop_column("phone_release_at")
        batch_op.drop_column("phone_reserved")
    op.drop_index("ix_eligibility_rule_service", table_name="eligibility_rule")
    op.drop_table("eligibility_rule")
