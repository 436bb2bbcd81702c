"""The access matrix: every staff route, every role, own and other clinic's ids; and every
route of the clinic systems API against every role's session and other clinics' keys.

Generated from the app's URL map, so a new staff or key-scoped route is covered the day it is
added. Every request that is out of role, or aims at another clinic's ids, must be refused
(302 to sign-in when signed out, 401/403 for the wrong role, 404 for another clinic) and must
change nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import (
    AuditEntry,
    Clinic,
    ClinicApiBatch,
    ClinicApiKey,
    ClinicApiKeyClinic,
    Reservation,
    Role,
    Slot,
    StaffUser,
)
from booking.services import api_keys, holds, reservations, staff
from tests.staff.support import TOTP, signed_in_client
from tests.support import ANSWERS, csrf_from, make_clinic, make_slot, person

PASSWORD = "matrix password 123"
ROLES = [r.value for r in Role]
CLINIC_ROLES = {"clinic_staff", "clinic_manager"}


@pytest.fixture
def world(app, clock):
    """Two clinics with a slot and a booking each; one account per role, clinic roles at A."""
    with app.app_context():
        s = db.session
        own, other = make_clinic(s, clock()), make_clinic(s, clock())
        ids: dict[str, Any] = {"own_clinic": own.id, "other_clinic": other.id}
        for label, clinic in (("own", own), ("other", other)):
            slot = make_slot(s, clinic, clock() + timedelta(days=1), capacity=3)
            hold = holds.place_hold(s, slot.id, now=clock(), hold_minutes=10)
            done = reservations.confirm_hold(
                s,
                hold.hold_token,
                person(1 if label == "own" else 2),
                now=clock(),
                secret_key="k",
                answers=ANSWERS,
                admission_ticket=None,
            )
            ids[f"{label}_slot"] = slot.id
            ids[f"{label}_reservation"] = done.reservation.id
            made = api_keys.create_key(
                s, clinic.id, label, secret_key=app.config["SECRET_KEY"], actor=None, now=clock()
            )
            ids[f"{label}_key"], ids[f"{label}_key_text"] = made.key.id, made.secret
        for role in ROLES:
            user = staff.create_user(
                s,
                email=f"{role}@matrix.example",
                display_name=role,
                role=role,
                password=PASSWORD,
                now=clock(),
                clinic_ids=(own.id,) if role in CLINIC_ROLES else (),
                totp_secret=TOTP if role == "state_admin" else None,
            )
            ids[f"user_{role}"] = user.id
        s.commit()
    return ids


def signed_in(app, clock, role: str | None):
    if role is None:
        client = app.test_client()
        page = client.get("/staff/sign-in").get_data(as_text=True)
        return client, csrf_from(page)
    client = signed_in_client(app, f"{role}@matrix.example", PASSWORD, clock())
    return client, csrf_from(client.get("/staff/").get_data(as_text=True))


def snapshot(app) -> tuple[Any, ...]:
    """Everything a refused request might have changed."""
    with app.app_context():
        s = db.session
        return (
            s.execute(
                select(
                    func.count(),
                    func.sum(Slot.capacity),
                    func.sum(Slot.held),
                    func.sum(Slot.booked),
                    func.sum(Slot.phone_reserved),
                )
            ).one(),
            s.execute(select(func.count(Slot.id)).where(Slot.is_open.is_(False))).scalar(),
            sorted(
                s.execute(select(Reservation.id, Reservation.status, Reservation.slot_id)).all()
            ),
            sorted(s.execute(select(Clinic.id, Clinic.name, Clinic.active)).all()),
            sorted(s.execute(select(StaffUser.id, StaffUser.active, StaffUser.role)).all()),
            sorted(
                s.execute(
                    select(ClinicApiKey.id, ClinicApiKey.prefix, ClinicApiKey.revoked_at)
                ).all()
            ),
            s.scalar(select(func.count(ClinicApiKeyClinic.key_id))),
            s.scalar(select(func.count(ClinicApiBatch.id))),
        )


def staff_routes(app) -> list[tuple[str, str, frozenset[str]]]:
    routes = []
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        if roles:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((rule.rule, method, frozenset(roles)))
    return routes


def fill(path: str, ids: dict[str, Any], clinic: str) -> str:
    """Put ids into a route: the given clinic and its records ("mixed": own clinic, records of
    the other clinic)."""
    records = "other" if clinic == "mixed" else clinic
    clinic = "own" if clinic == "mixed" else clinic

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "clinic_id":
            return str(ids[f"{clinic}_clinic"])
        if name in ("slot_id", "reservation_id", "key_id"):
            return str(ids[f"{records}_{name.removesuffix('_id')}"])
        if name == "user_id":
            return str(ids["user_agent"])
        if "date" in name or name == "day":
            return "2026-03-03"
        return "1"

    return re.sub(r"<(?:[^:>]+:)?([^>]*?)?(\w+)>", value, path)


def test_every_refusal_in_the_matrix(app, clock, world):
    routes = staff_routes(app)
    assert len(routes) >= 10, "the matrix found the staff routes"
    before = snapshot(app)
    with app.app_context():
        # The audit log is append-only: entries other tests committed stay; only new ones count.
        audited = db.session.scalar(select(func.max(AuditEntry.id))) or 0
    checked = 0
    for role in [None, *ROLES]:
        client, token = signed_in(app, clock, role)
        for path, method, allowed in routes:
            variants = ["own"]
            if "<" in path and role in CLINIC_ROLES:
                variants.append("other")  # another clinic's ids must be refused
            mixes = "clinic_id" in path and any(
                name in path for name in ("slot_id", "reservation_id", "key_id")
            )
            if mixes and role is not None:
                variants.append("mixed")  # a record of another clinic under one's own
            for clinic in variants:
                url = fill(path, world, clinic)
                out_of_role = role is None or role not in allowed
                if not out_of_role and clinic == "own":
                    continue  # allowed: not a refusal case
                data = {"csrf_token": token} if method != "GET" else None
                response = client.open(url, method=method, data=data)
                checked += 1
                if role is None:
                    assert response.status_code in (302, 401), (url, method)
                    if response.status_code == 302:
                        assert "/staff/sign-in" in response.headers["Location"]
                elif out_of_role:
                    assert response.status_code == 403, (role, url, method, response.status_code)
                else:
                    assert response.status_code == 404, (role, url, method, response.status_code)
    assert checked > 50
    assert snapshot(app) == before, "a refused request changed data"
    with app.app_context():
        refused_actions = db.session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.action != "staff.sign_in", AuditEntry.id > audited
            )
        ).all()
    assert refused_actions == [], "refused requests must not be audited as done"


def test_the_matrix_sees_every_console(app):
    paths = {path for path, _, _ in staff_routes(app)}
    for prefix in ("/staff/", "/admin/"):
        assert any(p.startswith(prefix) for p in paths), prefix


def key_routes(app) -> list[tuple[str, str]]:
    return [
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if getattr(app.view_functions[rule.endpoint], "key_scoped", False)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def test_every_key_scoped_route_refuses_sessions_and_other_clinics_keys(app, clock, world):
    """No staff session is a key; another clinic's key, or a revoked one, acts for nobody."""
    routes = key_routes(app)
    assert len(routes) >= 2, "the matrix found the clinic systems API"
    with app.app_context():
        revoked = api_keys.create_key(
            db.session,
            world["own_clinic"],
            "old",
            secret_key=app.config["SECRET_KEY"],
            actor=None,
            now=clock(),
        )
        api_keys.revoke_key(db.session, world["own_clinic"], revoked.key.id, now=clock())
        db.session.commit()
    before = snapshot(app)
    body = {"slots": [{"external_id": "M-1", "capacity": 1, "closed": True}]}
    checked = 0

    def call(client, path, method, key=None):
        url = fill(path, world, "own") + "?date=2026-03-03"
        headers = {"Idempotency-Key": "matrix"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return client.open(
            url, method=method, json=body if method == "POST" else None, headers=headers
        )

    for role in [None, *ROLES]:
        client, _token = signed_in(app, clock, role)
        for path, method in routes:
            # A signed-in session of any role, with no key: refused, whatever the clinic.
            response = call(client, path, method)
            assert response.status_code == 401, (role, path, method)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            checked += 1
    client = app.test_client()
    for path, method in routes:
        foreign = call(client, path, method, world["other_key_text"])
        assert foreign.status_code == 404 and "scope" in foreign.get_json()["detail"], path
        assert call(client, path, method, revoked.secret).status_code == 401, path
        # Control: the own clinic's key is let through to the work (here a 404 for an unknown
        # slot, or the roster).
        assert call(client, path, method, world["own_key_text"]).status_code in (200, 404)
        checked += 3
    assert checked >= 2 * (len(ROLES) + 1) + 6
    assert snapshot(app) == before, "a refused request changed data"
