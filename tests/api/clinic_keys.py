"""Helpers for the clinic systems API tests: clinics with keys, batches, bookings."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from booking.db import db
from booking.models import Slot
from booking.services import api_keys, holds, reservations
from tests.support import ANSWERS, BOSTON, make_clinic, person

SECRET = "test-secret-key"  # the test app's SECRET_KEY is read from its config instead
BASE = "/api/v1/clinic-systems/clinics"


def make_key(
    app: Flask, clinic_id: int, now: datetime, name: str = "Front desk"
) -> tuple[int, str]:
    """A key for the clinic (id, full text), committed in the app's database."""
    made = api_keys.create_key(
        db.session,
        clinic_id,
        name,
        secret_key=app.config["SECRET_KEY"],
        actor=None,
        now=now,
    )
    db.session.commit()
    return made.key.id, made.secret


def two_clinics(app: Flask, now: datetime) -> dict[str, Any]:
    """Clinics A and B with a key each (ids and key texts)."""
    with app.app_context():
        a, b = make_clinic(db.session, now), make_clinic(db.session, now)
        db.session.commit()
        key_a = make_key(app, a.id, now)
        key_b = make_key(app, b.id, now)
    return {"a": a.id, "b": b.id, "key_a": key_a[1], "key_a_id": key_a[0], "key_b": key_b[1]}


def at(now: datetime, days: int = 1, hour: int = 9, minute: int = 0) -> datetime:
    """A Boston wall-clock time ``days`` after today's date."""
    day = now.astimezone(BOSTON).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), BOSTON)


def new_slot(
    external_id: str, start: datetime, *, capacity: int = 4, minutes: int = 15
) -> dict[str, Any]:
    """A batch item creating a flu slot (one dose)."""
    return {
        "external_id": external_id,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "service": "flu",
        "capacity": capacity,
    }


def push(client: Any, clinic_id: int, key: str, items: list[dict[str, Any]], idem: str) -> Any:
    """POST a batch with a key and an Idempotency-Key."""
    return client.post(
        f"{BASE}/{clinic_id}/slot-batches",
        json={"slots": items},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idem},
    )


def book(session: Session, slot_id: int, now: datetime, n: int = 1) -> int:
    """Book person ``n`` into the slot; return the reservation id."""
    hold = holds.place_hold(session, slot_id, now=now, hold_minutes=10)
    done = reservations.confirm_hold(
        session,
        hold.hold_token,
        person(n),
        now=now,
        secret_key="k",
        answers=ANSWERS,
        admission_ticket=None,
    )
    session.commit()
    return done.reservation.id


def slot_by_external(session: Session, clinic_id: int, external_id: str) -> Slot | None:
    """The clinic's slot of that external id, fresh from the database."""
    from sqlalchemy import select

    return session.scalars(
        select(Slot)
        .where(Slot.clinic_id == clinic_id, Slot.external_id == external_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
