"""Clinics' API keys for their own scheduling systems, and the batches those systems pushed.

A key belongs to the clinic whose manager made it; a state admin may add other clinics to its
scope (a chain's sites). Only an HMAC of the key is kept. A batch is kept by the clinic's
Idempotency-Key with a hash of its body, so a retry gets the first answer and a different body
under the same key is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import Base


class ClinicApiKey(Base):
    """One clinic system's key: its name, visible prefix, keyed hash and life."""

    __tablename__ = "clinic_api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(20), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column()
    rotated_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        CheckConstraint("length(secret_hash) = 64", name="secret_hash_length"),
        CheckConstraint("length(name) BETWEEN 1 AND 80", name="name_given"),
    )


class ClinicApiKeyClinic(Base):
    """A clinic beyond its own that a key may act for (granted by a state admin)."""

    __tablename__ = "clinic_api_key_clinic"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("clinic_api_key.id", ondelete="CASCADE"), primary_key=True
    )
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("clinic.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ClinicApiBatch(Base):
    """A slot batch a clinic's system applied, kept for replays of its Idempotency-Key."""

    __tablename__ = "clinic_api_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinic_api_key.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column()
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    items: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("clinic_id", "idempotency_key"),)
