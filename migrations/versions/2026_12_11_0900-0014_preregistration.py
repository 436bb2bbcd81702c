"""Preregistration: people sign up once and are invited when a place near them opens.

Revision ID: 0014
Revises: 0012 (the lead re-points this to 0013 when merging after it)
Create Date: 2026-12-11 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('waiting', 'invited')"
LOCALES = "locale IN ('en', 'es', 'pt', 'zh_Hans', 'ht', 'vi')"


def upgrade() -> None:
    op.create_table(
        "preregistration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_key", sa.String(length=250), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("zip_code", sa.String(length=5), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("travel_miles", sa.SmallInteger(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("callback_phone", sa.String(length=20), nullable=True),
        sa.Column("locale", sa.String(length=16), server_default=sa.text("'en'"), nullable=False),
        sa.Column("accessibility", sa.String(length=500), nullable=True),
        sa.Column("lives_or_works_in_state", sa.Boolean(), nullable=False),
        sa.Column("has_condition", sa.Boolean(), nullable=False),
        sa.Column("short_notice", sa.Boolean(), nullable=False),
        sa.Column("priority_group", sa.String(length=80), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("token_nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'invited', 'booked', 'vaccinated', 'withdrawn')",
            name=op.f("ck_preregistration_status_known"),
        ),
        sa.CheckConstraint(
            "channel IN ('online', 'agent', 'api')", name=op.f("ck_preregistration_channel_known")
        ),
        sa.CheckConstraint(LOCALES, name=op.f("ck_preregistration_locale_shipped")),
        sa.CheckConstraint(
            "travel_miles BETWEEN 1 AND 100", name=op.f("ck_preregistration_travel_miles_range")
        ),
        sa.CheckConstraint(
            "phone IS NOT NULL OR email IS NOT NULL OR callback_phone IS NOT NULL",
            name=op.f("ck_preregistration_reachable"),
        ),
        sa.CheckConstraint(
            "(status IN ('withdrawn', 'vaccinated')) = (closed_at IS NOT NULL)",
            name=op.f("ck_preregistration_closed_when_closed"),
        ),
        sa.CheckConstraint(
            "priority_rank >= 0", name=op.f("ck_preregistration_priority_rank_positive")
        ),
        sa.ForeignKeyConstraint(
            ["product_id", "service"],
            ["vaccine_product.id", "vaccine_product.service"],
            name=op.f("fk_preregistration_product_id_vaccine_product"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preregistration")),
    )
    op.create_index(
        "uq_preregistration_person_key_active",
        "preregistration",
        ["person_key"],
        unique=True,
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_index(
        "ix_preregistration_status_priority_rank", "preregistration", ["status", "priority_rank"]
    )
    op.create_index("ix_preregistration_closed_at", "preregistration", ["closed_at"])


def downgrade() -> None:
    op.drop_table("preregistration")
