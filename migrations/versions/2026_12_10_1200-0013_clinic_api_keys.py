"""Clinic systems API: per-clinic keys (hashed), their granted clinics, applied batches, and
each slot's id in the clinic's own system.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 12:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clinic_api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "length(secret_hash) = 64", name=op.f("ck_clinic_api_key_secret_hash_length")
        ),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 80", name=op.f("ck_clinic_api_key_name_given")
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_clinic_api_key_clinic_id_clinic"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_user.id"],
            name=op.f("fk_clinic_api_key_created_by_staff_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_clinic_api_key_prefix")),
    )
    op.create_index("ix_clinic_api_key_clinic_id", "clinic_api_key", ["clinic_id"])
    op.create_table(
        "clinic_api_key_clinic",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["clinic_api_key.id"],
            name=op.f("fk_clinic_api_key_clinic_key_id_clinic_api_key"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_clinic_api_key_clinic_clinic_id_clinic"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", "clinic_id", name=op.f("pk_clinic_api_key_clinic")),
    )
    op.create_index("ix_clinic_api_key_clinic_clinic_id", "clinic_api_key_clinic", ["clinic_id"])
    op.create_table(
        "clinic_api_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_clinic_api_batch_clinic_id_clinic"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["clinic_api_key.id"],
            name=op.f("fk_clinic_api_batch_key_id_clinic_api_key"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_api_batch")),
        sa.UniqueConstraint(
            "clinic_id",
            "idempotency_key",
            name=op.f("uq_clinic_api_batch_clinic_id_idempotency_key"),
        ),
    )
    op.create_index("ix_clinic_api_batch_key_id", "clinic_api_batch", ["key_id"])
    op.add_column("slot", sa.Column("external_id", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_slot_clinic_id_external_id", "slot", ["clinic_id", "external_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_slot_clinic_id_external_id", table_name="slot")
    with op.batch_alter_table("slot") as batch:
        batch.drop_column("external_id")
    op.drop_table("clinic_api_batch")
    op.drop_table("clinic_api_key_clinic")
    op.drop_table("clinic_api_key")
