"""The provider finder: other providers' feeds and the last good copy of what they publish.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manifest_url", sa.String(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("problem", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("validators", sa.JSON(), nullable=False),
        sa.Column("location_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("slot_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'ok', 'refused')", name=op.f("ck_provider_feed_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_feed")),
        sa.UniqueConstraint("manifest_url", name=op.f("uq_provider_feed_manifest_url")),
    )
    op.create_table(
        "provider_location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address_line", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("vtrcks_pin", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["provider_feed.id"],
            name=op.f("fk_provider_location_feed_id_provider_feed"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_location")),
        sa.UniqueConstraint(
            "feed_id", "source_id", name=op.f("uq_provider_location_feed_id_source_id")
        ),
    )
    op.create_table(
        "provider_slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("cvx_code", sa.String(length=3), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booking_link", sa.String(length=1000), nullable=True),
        sa.Column("booking_phone", sa.String(length=40), nullable=True),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_provider_slot_capacity_positive")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_provider_slot_ends_after_start")),
        sa.CheckConstraint(
            "booking_link IS NULL OR booking_link LIKE 'https://%' OR booking_link LIKE 'http://%'",
            name=op.f("ck_provider_slot_booking_link_web"),
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["provider_feed.id"],
            name=op.f("fk_provider_slot_feed_id_provider_feed"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["provider_location.id"],
            name=op.f("fk_provider_slot_location_id_provider_location"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_slot")),
    )
    op.create_index("ix_provider_slot_starts_at", "provider_slot", ["starts_at"])
    op.create_index("ix_provider_slot_location_id", "provider_slot", ["location_id"])
    op.create_index("ix_provider_slot_feed_id", "provider_slot", ["feed_id"])


def downgrade() -> None:
    op.drop_table("provider_slot")
    op.drop_table("provider_location")
    op.drop_table("provider_feed")
