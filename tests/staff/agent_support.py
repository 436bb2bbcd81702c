"""Helpers for the 2-1-1 console tests: accounts, signing in, a clinic with times, audit rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import Flask
from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry, Slot
from booking.services import staff
from tests.staff.support import TOTP, signed_in_client
from tests.support import csrf_from, make_clinic, make_slot

PASSWORD = "agent console password"


def make_accounts(app: Flask, now: datetime) -> dict[str, Any]:
    """An agent, a second agent, a state admin (with TOTP), clinic staff; a clinic with times."""
    with app.app_context():
        s = db.session
        clinic = make_clinic(s, now, services=["covid19", "flu", "rsv"])
        ids: dict[str, Any] = {"clinic": clinic.id}
        for name, role in (
            ("agent", "agent"),
            ("agent2", "agent"),
            ("admin", "state_admin"),
            ("staff", "clinic_staff"),
        ):
            user = staff.create_user(
                s,
                email=f"{name}@console.example",
                display_name=name.title(),
                role=role,
                password=PASSWORD,
                now=now,
                clinic_ids=(clinic.id,) if role == "clinic_staff" else (),
                totp_secret=TOTP if role == "state_admin" else None,
            )
            ids[name] = user.id
        tomorrow = now + timedelta(days=1)
        ids["slots"] = [make_slot(s, clinic, tomorrow + timedelta(hours=h)).id for h in (1, 2)]
        ids["flu_slot"] = make_slot(s, clinic, tomorrow + timedelta(hours=3), service="flu").id
        ids["rsv_slot"] = make_slot(s, clinic, tomorrow + timedelta(hours=4), service="rsv").id
        s.commit()
    return ids


def sign_in(app: Flask, name: str, now: datetime) -> Any:
    """A test client signed in as one of ``make_accounts``' users."""
    return signed_in_client(app, f"{name}@console.example", PASSWORD, now)


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def token(client: Any) -> str:
    """A CSRF token for the signed-in client."""
    return csrf_from(text(client.get("/staff/")))


def hold(client: Any, slot_id: int, **headers: str) -> Any:
    return client.post(
        f"/agent/slots/{slot_id}/hold", data={"csrf_token": token(client)}, headers=headers
    )


CALLER = {
    "first_name": "Rosa",
    "last_name": "Caller",
    "date_of_birth": "04/27/1950",
    "phone": "(617) 555-0142",
    "email": "",
    "resident": "yes",
}


def book(
    client: Any, details_url: str, headers: dict[str, str] | None = None, **fields: Any
) -> Any:
    """Post the caller's details form (a phone-only caller unless told otherwise)."""
    data = {**CALLER, **fields, "csrf_token": token(client)}
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(details_url, data=data, headers=headers or {})


def counters(app: Flask, slot_id: int) -> tuple[int, int]:
    """(held, booked) of a slot."""
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        assert slot is not None
        return slot.held, slot.booked


def snapshot(row: Any) -> SimpleNamespace:
    """A row's column values, readable after its session has gone."""
    return SimpleNamespace(**{c.key: getattr(row, c.key) for c in row.__table__.c})


def rows(app: Flask, model: Any, **where: Any) -> list[SimpleNamespace]:
    """Rows of a model matching column values, in id order, as snapshots."""
    with app.app_context():
        query = select(model).order_by(model.id)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return [snapshot(row) for row in db.session.scalars(query)]


def audit_rows(app: Flask, action: str | None = None) -> list[SimpleNamespace]:
    """The audit log, oldest first, optionally one action only."""
    return rows(app, AuditEntry, **({"action": action} if action else {}))
