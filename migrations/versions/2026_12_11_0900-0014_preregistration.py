"""Preregistration and invitation rounds: people sign up once and are invited, by a personal
link, to places released for them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('waiting', 'invited')"
LOCALES = "locale IN ('en', 'es', 'pt', 'zh_Hans', 'ht', 'vi')"
KINDS = "kind IN ('confirmation', 'reminder', 'reschedule', 'cancellation', 'clinic_cancellation'"


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
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invite_reserved", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_check_constraint(
            "invite_reserved_in_capacity",
            "invite_reserved >= 0 AND invite_reserved + held + booked <= capacity",
        )
    op.create_table(
        "invitation_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("over_invitation", sa.Float(), nullable=False),
        sa.Column("expires_hours", sa.Integer(), nullable=False),
        sa.Column("on_expiry", sa.String(length=12), nullable=False),
        sa.Column("pool", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("result_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "over_invitation >= 1 AND over_invitation <= 3.0",
            name=op.f("ck_invitation_round_over_invitation_range"),
        ),
        sa.CheckConstraint(
            "expires_hours BETWEEN 1 AND 168", name=op.f("ck_invitation_round_expires_hours_range")
        ),
        sa.CheckConstraint(
            "on_expiry IN ('next_round', 'public')",
            name=op.f("ck_invitation_round_on_expiry_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_user.id"],
            name=op.f("fk_invitation_round_created_by_staff_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation_round")),
    )
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("preregistration_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("token_nonce", sa.String(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('sent', 'booked', 'expired', 'declined')",
            name=op.f("ck_invitation_status_known"),
        ),
        sa.CheckConstraint(
            "(status = 'sent') = (closed_at IS NULL)", name=op.f("ck_invitation_closed_unless_live")
        ),
        sa.CheckConstraint(
            "status <> 'booked' OR reservation_id IS NOT NULL",
            name=op.f("ck_invitation_booked_has_booking"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["invitation_round.id"],
            name=op.f("fk_invitation_round_id_invitation_round"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["preregistration_id"],
            ["preregistration.id"],
            name=op.f("fk_invitation_preregistration_id_preregistration"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinic.id"],
            name=op.f("fk_invitation_clinic_id_clinic"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservation.id"],
            name=op.f("fk_invitation_reservation_id_reservation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
    )
    op.create_index(
        "uq_invitation_preregistration_id_live",
        "invitation",
        ["preregistration_id"],
        unique=True,
        postgresql_where=sa.text("status = 'sent'"),
        sqlite_where=sa.text("status = 'sent'"),
    )
    op.create_index(
        "uq_invitation_round_id_preregistration_id",
        "invitation",
        ["round_id", "preregistration_id"],
        unique=True,
    )
    op.create_index("ix_invitation_status_expires_at", "invitation", ["status", "expires_at"])
    op.create_index("ix_invitation_clinic_id_day", "invitation", ["clinic_id", "day"])
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.alter_column("reservation_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("invitation_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_outbox_message_invitation_id_invitation"),
            "invitation",
            ["invitation_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_outbox_message_invitation_id", ["invitation_id"])
        batch_op.drop_constraint(op.f("ck_outbox_message_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", KINDS + ", 'invitation')")
        batch_op.create_check_constraint(
            "about_one_thing", "(reservation_id IS NULL) <> (invitation_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM outbox_message WHERE invitation_id IS NOT NULL")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_about_one_thing"), type_="check")
        batch_op.drop_constraint(op.f("ck_outbox_message_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", KINDS + ")")
        batch_op.drop_index("ix_outbox_message_invitation_id")
        batch_op.drop_constraint(
            op.f("fk_outbox_message_invitation_id_invitation"), type_="foreignkey"
        )
        batch_op.drop_column("invitation_id")
        batch_op.alter_column("reservation_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("invitation")
    op.drop_table("invitation_round")
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_slot_invite_reserved_in_capacity"), type_="check")
        batch_op.drop_column("invite_reserved")
    op.drop_table("preregistration")
