"""Invitation rounds: places released for preregistered people, and each invitee's invitation.

A round records its seed and the pool it drew from, so it can be drawn again from the record
and compared. An invitation is a personal, single-use admission: a partial unique index keeps
one live invitation per preregistration, and its booking is made under the admission ticket
``invite-<id>``, which the reservations' own index lets book once.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import Base, one_of


class InvitationStatus(enum.StrEnum):
    """Where an invitation stands; only SENT is live."""

    SENT = "sent"
    BOOKED = "booked"
    EXPIRED = "expired"
    DECLINED = "declined"


class OnExpiry(enum.StrEnum):
    """What an unused invitation's place does when it expires."""

    NEXT_ROUND = "next_round"
    PUBLIC = "public"


MAX_OVER_INVITATION = 3.0


class InvitationRound(Base):
    """One draw: who was eligible, the seed, the places per clinic and day, what it chose."""

    __tablename__ = "invitation_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(40))
    seed: Mapped[str] = mapped_column(String(64))
    over_invitation: Mapped[float] = mapped_column(Float)
    expires_hours: Mapped[int] = mapped_column(Integer)
    on_expiry: Mapped[str] = mapped_column(String(12))
    # The draw's inputs, as drawn: [[prereg id, rank, [release key, ...nearest first]], ...]
    # and {release key: invitations to send}; a release key is "clinic_id:YYYY-MM-DD". The pool
    # is the part of the lottery order the draw reached (everyone after it could not have been
    # chosen, whatever their places); ``eligible`` counts everyone it was drawn from.
    pool: Mapped[list[Any]] = mapped_column(JSON)
    places: Mapped[dict[str, Any]] = mapped_column(JSON)
    result_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    eligible: Mapped[int | None] = mapped_column(Integer)
    # Drawn, but no longer waiting when their batch was written: [[prereg id, release key], ...].
    skipped: Mapped[list[Any] | None] = mapped_column(JSON)
    # Null while the round's invitations are being written, batch by batch.
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(
            f"over_invitation >= 1 AND over_invitation <= {MAX_OVER_INVITATION}",
            name="over_invitation_range",
        ),
        CheckConstraint("expires_hours BETWEEN 1 AND 168", name="expires_hours_range"),
        CheckConstraint(one_of("on_expiry", OnExpiry), name="on_expiry_known"),
        # One round at a time per vaccine is being written: a second would count stale places.
        Index(
            "uq_invitation_round_service_open",
            "service",
            unique=True,
            postgresql_where=text("finished_at IS NULL"),
            sqlite_where=text("finished_at IS NULL"),
        ),
    )


class Invitation(Base):
    """A personal invitation to book one of the places released at a clinic on a day."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("invitation_round.id", ondelete="CASCADE"))
    preregistration_id: Mapped[int] = mapped_column(
        ForeignKey("preregistration.id", ondelete="CASCADE")
    )
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=InvitationStatus.SENT.value)
    token_nonce: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    reservation_id: Mapped[int | None] = mapped_column(
        ForeignKey("reservation.id", ondelete="SET NULL")
    )

    __table_args__ = (
        CheckConstraint(one_of("status", InvitationStatus), name="status_known"),
        CheckConstraint("(status = 'sent') = (closed_at IS NULL)", name="closed_unless_live"),
        CheckConstraint(
            "status <> 'booked' OR reservation_id IS NOT NULL", name="booked_has_booking"
        ),
        # Nobody holds two live invitations, nor is invited twice in one round.
        Index(
            "uq_invitation_preregistration_id_live",
            "preregistration_id",
            unique=True,
            postgresql_where=text("status = 'sent'"),
            sqlite_where=text("status = 'sent'"),
        ),
        Index(
            "uq_invitation_round_id_preregistration_id",
            "round_id",
            "preregistration_id",
            unique=True,
        ),
        Index("ix_invitation_status_expires_at", "status", "expires_at"),
        Index("ix_invitation_clinic_id_day", "clinic_id", "day"),
    )
