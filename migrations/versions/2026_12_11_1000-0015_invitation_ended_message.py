"""The "invitation ended" message: invitees whose offer ended because the places were filled
are told at once.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-11 10:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "kind IN ('confirmation', 'reminder', 'reschedule', 'cancellation', 'clinic_cancellation', "
    "'invitation'"
)


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", KINDS + ", 'invitation_ended')")


def downgrade() -> None:
    op.execute("DELETE FROM outbox_message WHERE kind = 'invitation_ended'")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_message_kind_known"), type_="check")
        batch_op.create_check_constraint("kind_known", KINDS + ")")
