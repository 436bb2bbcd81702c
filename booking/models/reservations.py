"""Reservations: a hold on a slot and, once confirmed, a resident's appointment.

A partial unique index on the normalized person key refuses a second confirmed reservation for
one person and service; one admitted waiting-room ticket holds at most one slot at a time and
makes one booking (plus one companion where the state allows it).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models.base import LOCALE_CHECK, Base, one_of
from booking.models.clinics import Clinic, Slot


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


SPENT_WHERE = "admission_ticket IS NOT NULL AND confirmed_at IS NOT NULL"


class Reservation(Base):
    """A hold on a slot, and, once confirmed, a resident's appointment."""

    __tablename__ = "reservation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot.id", ondelete="RESTRICT"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="RESTRICT"))
    service: Mapped[str] = mapped_column(String(40))
    # The product and dose of the course this appointment is for (copied from the slot).
    product_id: Mapped[int] = mapped_column(Integer)
    dose_number: Mapped[int] = mapped_column(SmallInteger, default=1, server_default=text("1"))
    # Dose 2 of a course booked here points at its dose 1 (a course moves and cancels together).
    course_id: Mapped[int | None] = mapped_column(ForeignKey("reservation.id", ondelete="RESTRICT"))
    # "Dose 2 only": dose 1 was given elsewhere on this date.
    prior_dose_date: Mapped[date | None] = mapped_column(Date)
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
    # The one extra person an admission may book in the same visit, where the state allows it.
    companion: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The language the resident booked in: their messages and reminders are written in it.
    locale: Mapped[str] = mapped_column(String(16), default="en", server_default=text("'en'"))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    confirmed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()

    slot: Mapped[Slot] = relationship(lazy="raise")
    clinic: Mapped[Clinic] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(one_of("status", ReservationStatus), name="status_known"),
        CheckConstraint(one_of("channel", Channel), name="channel_known"),
        CheckConstraint(LOCALE_CHECK, name="locale_shipped"),
        # A booking names a person who can be reached and has a code to quote.
        CheckConstraint(
            "status NOT IN ('confirmed', 'checked_in', 'no_show') OR (person_key IS NOT NULL "
            "AND confirmation_code IS NOT NULL AND date_of_birth IS NOT NULL "
            "AND (phone IS NOT NULL OR email IS NOT NULL))",
            name="booked_has_person",
        ),
        CheckConstraint("dose_number IN (1, 2)", name="dose_number_known"),
        # Dose 2 stands on a dose 1 booked here (course_id) or given elsewhere (prior_dose_date).
        CheckConstraint(
            "(dose_number = 1 AND course_id IS NULL AND prior_dose_date IS NULL) OR "
            "(dose_number = 2 AND (course_id IS NOT NULL OR prior_dose_date IS NOT NULL))",
            name="dose_two_has_dose_one",
        ),
        ForeignKeyConstraint(
            ["product_id", "service"],
            ["vaccine_product.id", "vaccine_product.service"],
            ondelete="RESTRICT",
        ),
        # One confirmed reservation per person, service and dose: residents cannot hoard slots.
        Index(
            "uq_reservation_person_key_service_dose_confirmed",
            "person_key",
            "service",
            "dose_number",
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
        # A course has one confirmed dose 2.
        Index(
            "uq_reservation_course_id_confirmed",
            "course_id",
            unique=True,
            postgresql_where=text("status = 'confirmed'"),
            sqlite_where=text("status = 'confirmed'"),
        ),
        # One admitted waiting-room session holds at most one slot at a time.
        Index(
            "uq_reservation_admission_ticket_held",
            "admission_ticket",
            unique=True,
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
        # One admission, one booking (and at most one companion): a confirmed booking spends
        # its admission for good, a cancelled one included; a released hold spends nothing.
        Index(
            "uq_reservation_admission_ticket_spent",
            "admission_ticket",
            "companion",
            unique=True,
            postgresql_where=text(SPENT_WHERE),
            sqlite_where=text(SPENT_WHERE),
        ),
    )
