"""Vaccine products: the catalogue, and every slot for one product of its service.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The catalogue as shipped with this revision, copied as literal data (a migration must not
# import app code, which changes after it): booking.services.products.CATALOGUE and
# DEFAULT_PRODUCT_KEYS then. Later changes to the catalogue are made by admins or by a new
# revision, never by editing this list.
# (key, service, name, manufacturer, cvx_code, min_age, max_age, doses, interval, latest)
CATALOGUE = [
    ("pfizer-covid19", "covid19", "Pfizer-BioNTech", "Pfizer", "208", 12, None, 2, 21, 42),
    ("moderna-covid19", "covid19", "Moderna", "Moderna", "207", 18, None, 2, 28, 42),
    ("janssen-covid19", "covid19", "Janssen", "Janssen Biotech", "212", 18, None, 1, None, None),
    ("novavax-covid19", "covid19", "Novavax", "Novavax", "211", 18, None, 2, 21, 42),
    ("fluzone-flu", "flu", "Fluzone Quadrivalent", "Sanofi Pasteur", "150", 1, None, 1, None, None),
    ("fluzone-high-dose-flu", "flu", "Fluzone High-Dose Quadrivalent", "Sanofi Pasteur", "197", 65, None, 1, None, None),
    ("fluad-flu", "flu", "Fluad Quadrivalent", "Seqirus", "205", 65, None, 1, None, None),
    ("flucelvax-flu", "flu", "Flucelvax Quadrivalent", "Seqirus", "171", 2, None, 1, None, None),
    ("flublok-flu", "flu", "Flublok Quadrivalent", "Sanofi Pasteur", "185", 18, None, 1, None, None),
    ("arexvy-rsv", "rsv", "Arexvy", "GSK", "303", 60, None, 1, None, None),
    ("abrysvo-rsv", "rsv", "Abrysvo", "Pfizer", "305", 60, None, 1, None, None),
    ("mresvia-rsv", "rsv", "mRESVIA", "Moderna", "326", 60, None, 1, None, None),
]  # fmt: skip
DEFAULT_PRODUCT_KEYS = {"covid19": "pfizer-covid19", "flu": "fluzone-flu", "rsv": "arexvy-rsv"}
COLUMNS = (
    "key",
    "service",
    "name",
    "manufacturer",
    "cvx_code",
    "min_age_years",
    "max_age_years",
    "doses",
    "interval_days",
    "interval_max_days",
)


def upgrade() -> None:
    op.create_table(
        "vaccine_product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("cvx_code", sa.String(length=3), nullable=False),
        sa.Column("min_age_years", sa.Integer(), nullable=False),
        sa.Column("max_age_years", sa.Integer(), nullable=True),
        sa.Column("doses", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("interval_days", sa.Integer(), nullable=True),
        sa.Column("interval_max_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "service IN ('covid19', 'flu', 'rsv')", name=op.f("ck_vaccine_product_service_known")
        ),
        sa.CheckConstraint(
            "length(cvx_code) BETWEEN 1 AND 3 AND ltrim(cvx_code, '0123456789') = ''",
            name=op.f("ck_vaccine_product_cvx_digits"),
        ),
        sa.CheckConstraint(
            "min_age_years >= 0 AND (max_age_years IS NULL OR max_age_years >= min_age_years)",
            name=op.f("ck_vaccine_product_ages_ordered"),
        ),
        sa.CheckConstraint("doses BETWEEN 1 AND 2", name=op.f("ck_vaccine_product_doses_range")),
        sa.CheckConstraint(
            "(doses = 1 AND interval_days IS NULL AND interval_max_days IS NULL) OR "
            "(doses = 2 AND interval_days IS NOT NULL AND interval_max_days IS NOT NULL "
            "AND interval_days >= 1 AND interval_max_days >= interval_days)",
            name=op.f("ck_vaccine_product_interval_fits_doses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccine_product")),
        sa.UniqueConstraint("cvx_code", name=op.f("uq_vaccine_product_cvx_code")),
        sa.UniqueConstraint("id", "service", name=op.f("uq_vaccine_product_id_service")),
        sa.UniqueConstraint("key", name=op.f("uq_vaccine_product_key")),
    )
    product = sa.table(
        "vaccine_product",
        *(sa.column(name) for name in COLUMNS),
        sa.column("active"),
        sa.column("created_at"),
    )
    op.execute(
        product.insert().values(
            [
                {
                    **dict(zip(COLUMNS, row, strict=True)),
                    "active": True,
                    "created_at": sa.func.current_timestamp(),
                }
                for row in CATALOGUE
            ]
        )
    )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_id", sa.Integer(), nullable=True))
    # Slots made before products are for their service's default product.
    for service, key in DEFAULT_PRODUCT_KEYS.items():
        op.execute(
            sa.text(
                "UPDATE slot SET product_id = (SELECT id FROM vaccine_product WHERE key = :key) "
                "WHERE service = :service"
            ).bindparams(key=key, service=service)
        )
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.alter_column("product_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(op.f("uq_slot_clinic_id_starts_at_service"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_slot_clinic_id_starts_at_product_id"), ["clinic_id", "starts_at", "product_id"]
        )
        batch_op.create_foreign_key(
            op.f("fk_slot_product_id_vaccine_product"),
            "vaccine_product",
            ["product_id", "service"],
            ["id", "service"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    # Fails if a clinic has two products of one service at the same time, which the older
    # schema cannot hold; remove one of them first.
    with op.batch_alter_table("slot", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_slot_product_id_vaccine_product"), type_="foreignkey")
        batch_op.drop_constraint(op.f("uq_slot_clinic_id_starts_at_product_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_slot_clinic_id_starts_at_service"), ["clinic_id", "starts_at", "service"]
        )
        batch_op.drop_column("product_id")
    op.drop_table("vaccine_product")
