"""Preregistration: a person signs up once and waits to be invited when a place near them opens.

A partial unique index on the person key (the one bookings use) keeps one active
preregistration per person; withdrawn and vaccinated ones stay until the retention sweep
deletes them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import LOCALE_CHECK, Base, one_of


class PreregistrationStatus(enum.StrEnum):
    """Where a preregistration stands; WAITING and INVITED are active."""

    WAITING = "waiting"
    INVITED = "invited"
    BOOKED = "booked"
    VACCINATED = "vaccinated"
    WITHDRAWN = "withdrawn"


ACTIVE_PREREGISTRATION = "status IN ('waiting', 'invited')"
MAX_TRAVEL_MILES = 100


class Preregistration(Base):
    """One person's standing request to be invited to book, with what the draw needs to know."""

    __tablename__ = "preregistration"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_key: Mapped[str] = mapped_column(String(250))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    service: Mapped[str] = mapped_column(String(40))
    # Null: any of the service's products will do.
    product_id: Mapped[int | None] = mapped_column(Integer)
    zip_code: Mapped[str] = mapped_column(String(5))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    travel_miles: Mapped[int] = mapped_column(SmallInteger)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    # For callers with neither: the number the 2-1-1 line calls back.
    callback_phone: Mapped[str | None] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default=text("'en'"))
    accessibility: Mapped[str | None] = mapped_column(String(500))
    lives_or_works_in_state: Mapped[bool] = mapped_column(Boolean)
    has_condition: Mapped[bool] = mapped_column(Boolean, default=False)
    short_notice: Mapped[bool] = mapped_column(Boolean, default=False)
    # The first phase (in the rules' order) that admits the person, and its rank (0 first).
    priority_group: Mapped[str] = mapped_column(String(80))
    priority_rank: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12), default=PreregistrationStatus.WAITING.value)
    channel: Mapped[str] = mapped_column(String(10))
    # Part of what the status link signs: a new nonce makes every earlier link worthless.
    token_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint(one_of("status", PreregistrationStatus), name="status_known"),
        CheckConstraint("channel IN ('online', 'agent', 'api')", name="channel_known"),
        CheckConstraint(LOCALE_CHECK, name="locale_shipped"),
        CheckConstraint(
            f"travel_miles BETWEEN 1 AND {MAX_TRAVEL_MILES}", name="travel_miles_range"
        ),
        CheckConstraint(
            "phone IS NOT NULL OR email IS NOT NULL OR callback_phone IS NOT NULL",
            name="reachable",
        ),
        # Closed (withdrawn or vaccinated) exactly when it says when, so retention can count.
        CheckConstraint(
            "(status IN ('withdrawn', 'vaccinated')) = (closed_at IS NOT NULL)",
            name="closed_when_closed",
        ),
        CheckConstraint("priority_rank >= 0", name="priority_rank_positive"),
        ForeignKeyConstraint(
            ["product_id", "service"],
            ["vaccine_product.id", "vaccine_product.service"],
            ondelete="RESTRICT",
        ),
        # One active preregistration per person: a second one, by any channel, is refused.
        Index(
            "uq_preregistration_person_key_active",
            "person_key",
            unique=True,
            postgresql_where=text(ACTIVE_PREREGISTRATION),
            sqlite_where=text(ACTIVE_PREREGISTRATION),
        ),
        # The draw reads a group's waiting people; retention reads closed ones by date.
        Index("ix_preregistration_status_priority_rank", "status", "priority_rank"),
        Index("ix_preregistration_closed_at", "closed_at"),
    )
