"""Clinics, their slots, and the eligibility rules of the rollout's phases.

The database itself refuses overbooking (CHECK held + booked <= capacity), duplicate slots
(unique clinic + start + product) and a slot whose service is not its product's (composite
foreign key to vaccine_product); the services rely on these as the last line of defence and
the migrations create the same constraints.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import Base


class Clinic(Base):
    """A vaccination site residents can book at."""

    __tablename__ = "clinic"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="health_center")
    address_line: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(10))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(40))
    # The CDC's VTrckS provider PIN: aggregators de-duplicate a site's listings on it.
    vtrcks_pin: Mapped[str | None] = mapped_column(String(20), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column()

    slots: Mapped[list[Slot]] = relationship(back_populates="clinic", lazy="raise")

    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint(
            "vtrcks_pin = upper(vtrcks_pin) AND length(vtrcks_pin) BETWEEN 3 AND 20",
            name="vtrcks_pin_form",
        ),
        Index("ix_clinic_latitude_longitude", "latitude", "longitude"),
    )


class Slot(Base):
    """A window at a clinic for one service, with its capacity and live counters."""

    __tablename__ = "slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    service: Mapped[str] = mapped_column(String(40))
    product_id: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    booked: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Places only 2-1-1 agents may take until phone_release_at (the set-aside for phone callers).
    phone_reserved: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    phone_release_at: Mapped[datetime | None] = mapped_column()
    # Places released for invitees of preregistration rounds: nobody else may take them.
    invite_reserved: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column()
    # The clinic's own id for the slot, from its scheduling system (the clinic systems API).
    external_id: Mapped[str | None] = mapped_column(String(64))

    clinic: Mapped[Clinic] = relationship(back_populates="slots", lazy="raise")

    __table_args__ = (
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        CheckConstraint("held + booked <= capacity", name="not_overbooked"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(
            "phone_reserved >= 0 AND phone_reserved <= capacity", name="phone_reserved_in_capacity"
        ),
        CheckConstraint(
            "invite_reserved >= 0 AND invite_reserved + held + booked <= capacity",
            name="invite_reserved_in_capacity",
        ),
        ForeignKeyConstraint(
            ["product_id", "service"],
            ["vaccine_product.id", "vaccine_product.service"],
            ondelete="RESTRICT",
        ),
        # A clinic may run two products of one service at the same hour.
        UniqueConstraint("clinic_id", "starts_at", "product_id"),
        Index("ix_slot_starts_at", "starts_at"),
        Index("uq_slot_clinic_id_external_id", "clinic_id", "external_id", unique=True),
    )

    @property
    def available(self) -> int:
        """Places still free to anyone but invitees (holds count as taken until released)."""
        return max(0, self.capacity - self.held - self.booked - self.invite_reserved)

    def available_online(self, now: datetime) -> int:
        """Places residents can take online now, leaving the phone set-aside until its cutoff."""
        reserved = (
            self.phone_reserved if self.phone_release_at and now < self.phone_release_at else 0
        )
        return max(0, self.capacity - reserved - self.invite_reserved - self.held - self.booked)


class EligibilityRule(Base):
    """Who may book a service, from which date (a phase of the rollout)."""

    __tablename__ = "eligibility_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(40), index=True)
    phase: Mapped[str] = mapped_column(String(80))
    min_age_years: Mapped[int] = mapped_column(Integer)
    max_age_years: Mapped[int | None] = mapped_column(Integer)
    requires_condition: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    state_residents_only: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )
    effective_from: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        CheckConstraint(
            "min_age_years >= 0 AND (max_age_years IS NULL OR max_age_years >= min_age_years)",
            name="ages_ordered",
        ),
    )
