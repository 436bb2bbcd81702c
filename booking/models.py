"""Clinics, slots and reservations, with the rules that must never break kept in the schema.

The database itself refuses overbooking (CHECK held + booked <= capacity), duplicate slots
(unique clinic + start + service) and a second confirmed reservation for one person and service
(a partial unique index on the normalized person key). The services rely on these as the last
line of defence; the migrations create the same constraints.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from booking.services.text import LOCALES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention Alembic relies on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class ReservationStatus(enum.StrEnum):
    """Lifecycle of a reservation; only HELD counts as held, the next three as booked."""

    HELD = "held"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


BOOKED_STATUSES = (
    ReservationStatus.CONFIRMED,
    ReservationStatus.CHECKED_IN,
    ReservationStatus.NO_SHOW,
)


class Channel(enum.StrEnum):
    """How a reservation was made."""

    ONLINE = "online"
    AGENT = "agent"
    STAFF = "staff"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


LOCALE_CHECK = f"locale IN ({', '.join(repr(code) for code in LOCALES)})"


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
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column()

    slots: Mapped[list[Slot]] = relationship(back_populates="clinic", lazy="raise")

    __table_args__ = (
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        Index("ix_clinic_latitude_longitude", "latitude", "longitude"),
    )


class Slot(Base):
    """A window at a clinic for one service, with its capacity and live counters."""

    __tablename__ = "slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    service: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column(Integer)
    held: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    booked: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Places only 2-1-1 agents may take until phone_release_at (the set-aside for phone callers).
    phone_reserved: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    phone_release_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()

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
        UniqueConstraint("clinic_id", "starts_at", "service"),
        Index("ix_slot_starts_at", "starts_at"),
    )

    @property
    def available(self) -> int:
        """Places still free (holds count as taken until they are released)."""
        return max(0, self.capacity - self.held - self.booked)

    def available_online(self, now: datetime) -> int:
        """Places residents can take online now, leaving the phone set-aside until its cutoff."""
        reserved = (
            self.phone_reserved if self.phone_release_at and now < self.phone_release_at else 0
        )
        return max(0, self.capacity - reserved - self.held - self.booked)


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


class Reservation(Base):
    """A hold on a slot, and, once confirmed, a resident's appointment."""

    __tablename__ = "reservation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id", ondelete="RESTRICT"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    service: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=ReservationStatus.HELD.value)
    channel: Mapped[str] = mapped_column(String(10), default=Channel.ONLINE.value)
    hold_token: Mapped[str] = mapped_column(String(64), unique=True)
    hold_expires_at: Mapped[datetime] = mapped_column()
    request_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    admission_ticket: Mapped[str | None] = mapped_column(String(32))
    confirmation_code: Mapped[str | None] = mapped_column(String(8), unique=True)
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    person_key: Mapped[str | None] = mapped_column(String(250))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    eligibility_attested: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # The language the resident booked in: their messages and reminders are written in it.
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default=text("'en'"))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()

    slot: Mapped[Slot] = relationship(lazy="raise")
    clinic: Mapped[Clinic] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(_in("status", ReservationStatus), name="status_known"),
        CheckConstraint(_in("channel", Channel), name="channel_known"),
        CheckConstraint(LOCALE_CHECK, name="locale_shipped"),
        # A booking names a person who can be reached and has a code to quote.
        CheckConstraint(
            "status NOT IN ('confirmed', 'checked_in', 'no_show') OR (person_key IS NOT NULL "
            "AND confirmation_code IS NOT NULL AND date_of_birth IS NOT NULL "
            "AND (phone IS NOT NULL OR email IS NOT NULL))",
            name="booked_has_person",
        ),
        # One confirmed reservation per person and service: residents cannot hoard slots.
        Index(
            "uq_reservation_person_key_service_confirmed",
            "person_key",
            "service",
            unique=True,
            postgresql_where=text("status = 'confirmed'"),
            sqlite_where=text("status = 'confirmed'"),
        ),
        # The expiry sweep finds held rows past their expiry without scanning the table.
        Index(
            "ix_reservation_hold_expires_at_held",
            "hold_expires_at",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
        Index("ix_reservation_clinic_id_status", "clinic_id", "status"),
        # One admitted waiting-room session holds at most one slot at a time.
        Index(
            "uq_reservation_admission_ticket_held",
            "admission_ticket",
            unique=True,
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
    )
