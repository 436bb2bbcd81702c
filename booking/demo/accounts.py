"""Demo staff accounts, printed by ``make demo`` (the seed refuses to run in production)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import Clinic, StaffUser
from booking.services import staff

# (email, display name, role, clinic keys, password). Demo-only passwords, documented and
# printed on purpose: the demo database never holds real data.
DEMO_ACCOUNTS = (
    ("admin@fairslot.example", "Sam Admin", "state_admin", (), "demo-admin-password"),
    ("agent@fairslot.example", "Alex Agent (2-1-1)", "agent", (), "demo-agent-password"),
    (
        "manager@fenway.example",
        "Morgan Manager",
        "clinic_manager",
        ("fenway-park",),
        "demo-manager-password",
    ),
    (
        "staff@ebnhc.example",
        "Casey Staff",
        "clinic_staff",
        ("east-boston-nhc",),
        "demo-staff-password",
    ),
)


def seed_accounts(session: Session, *, now: datetime) -> list[tuple[str, str, str]]:
    """Create missing demo accounts; return (email, password, role) for the banner."""
    printed = []
    for email, name, role, clinic_keys, password in DEMO_ACCOUNTS:
        clinic_ids = tuple(
            session.scalars(select(Clinic.id).where(Clinic.key.in_(clinic_keys))).all()
        )
        if clinic_keys and not clinic_ids:
            continue
        exists = session.scalar(select(StaffUser.id).where(StaffUser.email == email))
        if exists is None:
            staff.create_user(
                session,
                email=email,
                display_name=name,
                role=role,
                password=password,
                now=now,
                clinic_ids=clinic_ids,
            )
        printed.append((email, password, role))
    return printed
