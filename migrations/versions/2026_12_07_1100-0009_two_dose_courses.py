"""Two-dose courses: each reservation names its product and dose; dose 2 points at dose 1.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
# Written beside 0008 (rules at booking); the integrator re-chains it onto 0008 when merging.
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE_BOOKING_WHERE = "status = 'confirmed'"


def upgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("dose_number", sa.SmallInteger(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(sa.Column("course_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prior_dose_date", sa.Date(), nullable=True))
    # Every reservation made before courses is dose 1 of its slot's product.
    op.execute(
        "UPDATE reservation SET product_id = (SELECT s.product_id FROM slot s "
        "WHERE s.id = reservation.slot_id)"
    )
    op.drop_index(
        "uq_reservation_person_key_service_confirmed",
        table_name="reservation",
        postgresql_where=sa.text(ONE_BOOKING_WHERE),
        sqlite_where=sa.text(ONE_BOOKING_WHERE),
    )
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.alter_column("product_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_reservation_product_id_vaccine_product"),
            "vaccine_product",
            ["product_id", "service"],
            ["id", "service"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            op.f("fk_reservation_course_id_reservation"),
            "reservation",
            ["course_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_check_constraint("dose_number_known", "dose_number IN (1, 2)")
        batch_op.create_check_constraint(
            "dose_two_has_dose_one",
            "(dose_number = 1 AND course_id IS NULL AND prior_dose_date IS NULL) OR "
            "(dose_number = 2 AND (course_id IS NOT NULL OR prior_dose_date IS NOT NULL))",
        )
    op.create_index(
        "uq_reservation_person_key_service_dose_confirmed",
        "reservation",
        ["person_key", "service", "dose_number"],
        unique=True,
        postgresql_where=sa.text(ONE_BOOKING_WHERE),
        sqlite_where=sa.text(ONE_BOOKING_WHERE),
    )
    op.create_index(
        "uq_reservation_course_id_confirmed",
        "reservation",
        ["course_id"],
        unique=True,
        postgresql_where=sa.text(ONE_BOOKING_WHERE),
        sqlite_where=sa.text(ONE_BOOKING_WHERE),
    )


def downgrade() -> None:
    # Fails if a person has a confirmed dose 1 and dose 2 of one service, which the older
    # schema cannot hold; cancel one of them first.
    op.drop_index(
        "uq_reservation_course_id_confirmed",
        table_name="reservation",
        postgresql_where=sa.text(ONE_BOOKING_WHERE),
        sqlite_where=sa.text(ONE_BOOKING_WHERE),
    )
    op.drop_index(
        "uq_reservation_person_key_service_dose_confirmed",
        table_name="reservation",
        postgresql_where=sa.text(ONE_BOOKING_WHERE),
        sqlite_where=sa.text(ONE_BOOKING_WHERE),
    )
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reservation_dose_two_has_dose_one"), type_="check")
        batch_op.drop_constraint(op.f("ck_reservation_dose_number_known"), type_="check")
        batch_op.drop_constraint(op.f("fk_reservation_course_id_reservation"), type_="foreignkey")
        batch_op.drop_constraint(
            op.f("fk_reservation_product_id_vaccine_product"), type_="foreignkey"
        )
        batch_op.drop_column("prior_dose_date")
        batch_op.drop_column("course_id")
        batch_op.drop_column("dose_number")
        batch_op.drop_column("product_id")
    op.create_index(
        "uq_reservation_person_key_service_confirmed",
        "reservation",
        ["person_key", "service"],
        unique=True,
        postgresql_where=sa.text(ONE_BOOKING_WHERE),
        sqlite_where=sa.text(ONE_BOOKING_WHERE),
    )
