"""Open data: each clinic's VTrckS PIN (the CDC provider id aggregators de-duplicate on).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
# Written beside other work after 0009; the integrator re-chains it when merging.
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PIN_FORM = "vtrcks_pin = upper(vtrcks_pin) AND length(vtrcks_pin) BETWEEN 3 AND 20"


def upgrade() -> None:
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vtrcks_pin", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_clinic_vtrcks_pin"), ["vtrcks_pin"])
        batch_op.create_check_constraint("vtrcks_pin_form", PIN_FORM)


def downgrade() -> None:
    with op.batch_alter_table("clinic", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_clinic_vtrcks_pin_form"), type_="check")
        batch_op.drop_constraint(op.f("uq_clinic_vtrcks_pin"), type_="unique")
        batch_op.drop_column("vtrcks_pin")
