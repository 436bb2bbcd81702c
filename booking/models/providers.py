"""Other providers' SMART Scheduling Links feeds, and the last good copy of what they publish.

A state admin registers a provider's manifest URL; the fetch job reads it on a schedule and,
when the whole feed passes validation, replaces that provider's locations and free slots in
one transaction. A refused fetch changes nothing but the feed's own status and problem, so a
broken feed never poisons what residents see: they keep seeing its last good copy, dated.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import Base, one_of


class FeedStatus(enum.StrEnum):
    """Where a provider feed stands after its last fetch."""

    NEW = "new"  # registered, not fetched yet
    OK = "ok"  # the last fetch was accepted (or the feed had not changed)
    REFUSED = "refused"  # the last fetch was refused; ``problem`` says why


class ProviderFeed(Base):
    """A provider's manifest, and how its last fetches went."""

    __tablename__ = "provider_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    manifest_url: Mapped[str] = mapped_column(String(500), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    status: Mapped[str] = mapped_column(String(20), default=FeedStatus.NEW.value)
    problem: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column()
    checked_at: Mapped[datetime | None] = mapped_column()  # the last attempt, whatever it gave
    fetched_at: Mapped[datetime | None] = mapped_column()  # the copy was current then
    changed_at: Mapped[datetime | None] = mapped_column()  # the copy last changed then
    # The validators of the manifest and of each file, for conditional requests.
    validators: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    location_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    slot_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (CheckConstraint(one_of("status", FeedStatus), name="status_known"),)


class ProviderLocation(Base):
    """One location of a provider's last accepted feed."""

    __tablename__ = "provider_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("provider_feed.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    address_line: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    district: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(40))
    url: Mapped[str | None] = mapped_column(String(500))
    vtrcks_pin: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (UniqueConstraint("feed_id", "source_id"),)


class ProviderSlot(Base):
    """One free slot (or aggregated free slots) of a provider's last accepted feed."""

    __tablename__ = "provider_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("provider_feed.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("provider_location.id", ondelete="CASCADE"))
    service: Mapped[str | None] = mapped_column(String(40))  # a FairSlot service, if known
    cvx_code: Mapped[str | None] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column(Integer)
    booking_link: Mapped[str | None] = mapped_column(String(1000))
    booking_phone: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # Residents follow these links: never a javascript: or data: one, whatever a feed says.
        CheckConstraint(
            "booking_link IS NULL OR booking_link LIKE 'https://%' OR booking_link LIKE 'http://%'",
            name="booking_link_web",
        ),
        Index("ix_provider_slot_starts_at", "starts_at"),
        Index("ix_provider_slot_location_id", "location_id"),
        Index("ix_provider_slot_feed_id", "feed_id"),
    )
