"""Booking core: clinics, slots and reservations, with the no-overbooking constraints.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:22:26.721605+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "clinic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("address_line", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("latitude BETWEEN -90 AND 90", name=op.f("ck_clinic_latitude_range")),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_clinic_longitude_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic")),
        sa.UniqueConstraint("key", name=op.f("uq_clinic_key")),
    )
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        batch_op.create_index(
            "ix_clinic_latitude_longitude", ["latitude", "longitude"], unique=False
        )

    op.create_table(
        "slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("booked", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("is_open", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_slot_booked_not_negative")),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_slot_capacity_not_negative")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_slot_ends_after_start")),
        sa.CheckConstraint("held + booked <= capacity", name=op.f("ck_slot_not_overbooked")),
        sa.CheckConstraint("held >= 0", name=op.f("ck_slot_held_not_negative")),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinic.id"], name=op.f("fk_slot_clinic_id_clinic"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot")),
        sa.UniqueConstraint(
            "clinic_id", "starts_at", "service", name=op.f("uq_slot_clinic_id_starts_at_service")
        ),
    )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.create_index("ix_slot_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "reservation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("hold_token", sa.String(length=64), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_key_hash", sa.String(length=64), nullable=True),
        sa.Column("confirmation_code", sa.String(length=8), nullable=True),
        sa.Column("manage_token_hash", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("person_key", sa.String(length=250), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column(
            "eligibility_attested", sa.Boolean(), server_default=sa.text("(false)"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('online', 'agent', 'staff')", name=op.f("ck_reservation_channel_known")
        ),
        sa.CheckConstraint(
            "status IN ('held', 'confirmed', 'checked_in', 'no_show', 'cancelled', 'expired')",
            name=op.f("ck_reservation_status_known"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('confirmed', 'checked_in', 'no_show') OR (person_key IS NOT NULL AND confirmation_code IS NOT NULL AND date_of_birth IS NOT NULL AND (phone IS NOT NULL OR email IS NOT NULL))",
            name=op.f("ck_reservation_booked_has_person"),
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_reservation_clinic_id_clinic"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slot.id"], name=op.f("fk_reservation_slot_id_slot"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservation")),
        sa.UniqueConstraint("confirmation_code", name=op.f("uq_reservation_confirmation_code")),
        sa.UniqueConstraint("hold_token", name=op.f("uq_reservation_hold_token")),
        sa.UniqueConstraint("manage_token_hash", name=op.f("uq_reservation_manage_token_hash")),
        sa.UniqueConstraint("request_key_hash", name=op.f("uq_reservation_request_key_hash")),
    )
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reservation_clinic_id_status", ["clinic_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_reservation_hold_expires_at_held",
            ["hold_expires_at"],
            unique=False,
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )
        batch_op.create_index(batch_op.f("ix_reservation_slot_id"), ["slot_id"], unique=False)
        batch_op.create_index(
            "uq_reservation_person_key_service_confirmed",
            ["person_key", "service"],
            unique=True,
            postgresql_where=sa.text("status = 'confirmed'"),
            sqlite_where=sa.text("status = 'confirmed'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_reservation_person_key_service_confirmed",
            postgresql_where=sa.text("status = 'confirmed'"),
            sqlite_where=sa.text("status = 'confirmed'"),
        )
        batch_op.drop_index(batch_op.f("ix_reservation_slot_id"))
        batch_op.drop_index(
            "ix_reservation_hold_expires_at_held",
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )
        batch_op.drop_index("ix_reservation_clinic_id_status")

    op.drop_table("reservation")
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_index("ix_slot_starts_at")

    op.drop_table("slot")
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        batch_op.drop_index("ix_clinic_latitude_longitude")

    op.drop_table("clinic")
