"""The outbox: every message to a resident is a row written in the booking's own transaction.

A message is written together with the change it announces (one commit), then handed to a
worker by id. ``outbox_delivery`` is the sender's record, one row per message at most: a send
is claimed there in its own committed transaction before the provider is called, and marked
sent after, so a job that runs again after a crash sees what happened and sends nothing twice.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import Base, one_of


class MessageKind(enum.StrEnum):
    """What a message announces."""

    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"
    CLINIC_CANCELLATION = "clinic_cancellation"
    INVITATION = "invitation"
    INVITATION_ENDED = "invitation_ended"  # the places were filled: the offer ended


class MessageChannel(enum.StrEnum):
    """How a message reaches the resident: the contact details they gave."""

    EMAIL = "email"
    SMS = "sms"


class MessageStatus(enum.StrEnum):
    """Lifecycle of an outbox row.

    ``queued``: waiting for a worker (due now, a scheduled reminder, or a retry after backoff);
    ``sending``: claimed by a worker that is calling the provider; ``sent``; ``failed``: gave
    up after the allowed attempts or a permanent refusal (admins can retry it); ``cancelled``:
    no longer wanted (a reminder for an appointment that moved or was cancelled).
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxMessage(Base):
    """One message to one resident over one channel."""

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A booking's message names its reservation; an invitation's names the invitation.
    reservation_id: Mapped[int | None] = mapped_column(
        ForeignKey("reservation.id", ondelete="RESTRICT"), index=True
    )
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(16))
    # Which version of the appointment the message belongs to: 0 when booked, +1 per move.
    revision: Mapped[int] = mapped_column(Integer)
    # The business rule in the schema: one message per event, kind and channel, ever.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    send_after: Mapped[datetime] = mapped_column()
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(one_of("kind", MessageKind), name="kind_known"),
        CheckConstraint(one_of("channel", MessageChannel), name="channel_known"),
        CheckConstraint(one_of("status", MessageStatus), name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint(
            "(reservation_id IS NULL) <> (invitation_id IS NULL)", name="about_one_thing"
        ),
        CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        # The relay and the admin lists read by status and due time.
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )


class OutboxDelivery(Base):
    """The sender's record for a message: its claim (a lease) and, once done, that it was sent."""

    __tablename__ = "outbox_delivery"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column()
    lease_until: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    provider_message_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (CheckConstraint("attempt >= 1", name="attempt_positive"),)
