"""Shared set-up for the clinic console tests: two clinics, bookings, one account per role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from booking.db import db
from booking.models import AuditEntry, OutboxMessage, Reservation, Slot
from booking.services import holds, reservations, staff
from tests.staff.support import TOTP, signed_in_client
from tests.support import ANSWERS, csrf_from, make_clinic, make_slot, person

PASSWORD = "clinic password 123"
BOSTON = ZoneInfo("America/New_York")


def build_world(app: Any, clock: Any) -> dict[str, Any]:
    """Clinic "Mine" (slots tomorrow 08:00 and 09:00, two bookings and a live hold) and
    "Other" (one booking); clinic roles work at Mine only."""
    with app.app_context():
        s = db.session
        mine = make_clinic(s, clock(), name="Mine")
        other = make_clinic(s, clock(), name="Other")
        start = clock() + timedelta(days=1)  # 08:00 in Boston tomorrow
        slot = make_slot(s, mine, start, capacity=3)
        later_slot = make_slot(s, mine, start + timedelta(hours=1), capacity=2)
        next_day = make_slot(s, mine, start + timedelta(days=1), capacity=2)
        other_slot = make_slot(s, other, start, capacity=3)
        booked = []
        names = ["Resident", '=HYPERLINK("http://x.example")', "Resident"]
        for n, target in enumerate([slot, later_slot, other_slot]):
            hold = holds.place_hold(s, target.id, now=clock(), hold_minutes=10)
            who = person(n, last_name=names[n], email=f"r{n}@example.org")
            done = reservations.confirm_hold(
                s,
                hold.hold_token,
                who,
                now=clock(),
                secret_key="k",
                answers=ANSWERS,
                admission_ticket=None,
            )
            booked.append(done.reservation.id)
        live_hold = holds.place_hold(s, slot.id, now=clock(), hold_minutes=10)
        users = {}
        for role in ("clinic_staff", "clinic_manager", "state_admin"):
            users[role] = staff.create_user(
                s,
                email=f"{role}@c.example",
                display_name=role,
                role=role,
                password=PASSWORD,
                now=clock(),
                clinic_ids=(mine.id,) if role != "state_admin" else (),
                totp_secret=TOTP if role == "state_admin" else None,
            ).id
        other_manager = staff.create_user(
            s,
            email="other_manager@c.example",
            display_name="other manager",
            role="clinic_manager",
            password=PASSWORD,
            now=clock(),
            clinic_ids=(other.id,),
        )
        s.commit()
        return {
            "mine": mine.id,
            "other": other.id,
            "slot": slot.id,
            "later_slot": later_slot.id,
            "next_day": next_day.id,
            "other_slot": other_slot.id,
            "booked": booked,
            "hold": live_hold.id,
            "day": start.astimezone(BOSTON).date(),
            "users": {**users, "other_manager": other_manager.id},
        }


def client_for(app: Any, clock: Any, role: str) -> Any:
    """A test client signed in as ``role@c.example`` (passing the admins' second factor)."""
    return signed_in_client(app, f"{role}@c.example", PASSWORD, clock())


def token(client: Any) -> str:
    """A CSRF token for the signed-in client."""
    return csrf_from(client.get("/staff/").get_data(as_text=True))


def snapshot(app: Any) -> tuple[Any, ...]:
    """Everything a refused request might have changed (audit rows of changes included)."""
    with app.app_context():
        s = db.session
        return (
            sorted(
                s.execute(
                    select(Slot.id, Slot.capacity, Slot.held, Slot.booked, Slot.is_open)
                ).all()
            ),
            sorted(s.execute(select(Reservation.id, Reservation.status)).all()),
            s.scalar(select(func.count()).select_from(OutboxMessage)),
            sorted(
                s.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.action.startswith("clinic."),
                        AuditEntry.action != "clinic.view_roster",
                    )
                ).all()
            ),
        )


def audit_actions(app: Any) -> list[tuple[str, str | None, int | None]]:
    """(action, record id, clinic id) of every clinic console audit row, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            select(AuditEntry.action, AuditEntry.record_id, AuditEntry.clinic_id)
            .where(AuditEntry.action.startswith("clinic."))
            .order_by(AuditEntry.id)
        ).all()
        return [tuple(row) for row in rows]
