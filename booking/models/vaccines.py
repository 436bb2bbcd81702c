"""The vaccine products a slot is for: brand, CDC CVX code, ages and the course's doses.

State admins manage the catalogue. A slot names its product and its service both, and the
composite foreign key (product_id, service) makes the database refuse a slot whose service is
not its product's; the UNIQUE (id, service) below is what that key points at.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from booking.models.base import Base

# The services a product may belong to (booking.services.inventory.SERVICES has their words).
SERVICE_CODES = ("covid19", "flu", "rsv")


class VaccineProduct(Base):
    """One vaccine product: its service, brand, CVX code, ages and course."""

    __tablename__ = "vaccine_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    service: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    manufacturer: Mapped[str] = mapped_column(String(100))
    cvx_code: Mapped[str] = mapped_column(String(3), unique=True)
    min_age_years: Mapped[int] = mapped_column(Integer)
    max_age_years: Mapped[int | None] = mapped_column(Integer)
    doses: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # Dose 2 is due from interval_days after dose 1, and at the latest interval_max_days after.
    interval_days: Mapped[int | None] = mapped_column(Integer)
    interval_max_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column()

    __table_args__ = (
        CheckConstraint(
            f"service IN ({', '.join(repr(code) for code in SERVICE_CODES)})",
            name="service_known",
        ),
        CheckConstraint(
            "length(cvx_code) BETWEEN 1 AND 3 AND ltrim(cvx_code, '0123456789') = ''",
            name="cvx_digits",
        ),
        CheckConstraint(
            "min_age_years >= 0 AND (max_age_years IS NULL OR max_age_years >= min_age_years)",
            name="ages_ordered",
        ),
        CheckConstraint("doses BETWEEN 1 AND 2", name="doses_range"),
        # Spelled out with IS NOT NULL: a CHECK that comes out NULL would let the row in.
        CheckConstraint(
            "(doses = 1 AND interval_days IS NULL AND interval_max_days IS NULL) OR "
            "(doses = 2 AND interval_days IS NOT NULL AND interval_max_days IS NOT NULL "
            "AND interval_days >= 1 AND interval_max_days >= interval_days)",
            name="interval_fits_doses",
        ),
        UniqueConstraint("id", "service"),
    )
