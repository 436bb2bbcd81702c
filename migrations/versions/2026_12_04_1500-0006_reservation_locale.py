"""The language each reservation was booked in, so its messages are written in it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The languages shipped when this revision was written (booking.services.text.LOCALES then).
SHIPPED = "'en', 'es', 'pt', 'zh_Hans', 'ht', 'vi'"


def upgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "locale", sa.String(length=16), server_default=sa.text("'en'"), nullable=False
            )
        )
        batch_op.create_check_constraint("locale_shipped", f"locale IN ({SHIPPED})")
    # Bookings made before this revision: the language their first message was written in.
    op.execute(
        "UPDATE reservation SET locale = (SELECT m.locale FROM outbox_message m "
        "WHERE m.reservation_id = reservation.id ORDER BY m.id LIMIT 1) "
        "WHERE (SELECT m.locale FROM outbox_message m WHERE m.reservation_id = reservation.id "
        "ORDER BY m.id LIMIT 1) IN ('en', 'es', 'pt', 'zh_Hans', 'ht', 'vi')"
    )


def downgrade() -> None:
    with op.batch_alter_table("reservation", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_reservation_locale_shipped"), type_="check")
        batch_op.drop_column("locale")
