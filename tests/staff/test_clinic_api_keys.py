"""The clinic console's API keys: made, shown once, rotated, revoked, scoped by a state admin."""

from __future__ import annotations

import re

from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry, ClinicApiKey, ClinicApiKeyClinic
from booking.services import api_keys, staff
from tests.staff.support import TOTP, signed_in_client
from tests.support import csrf_from, make_clinic

PASSWORD = "keys password 1234"
KEY_RE = re.compile(r">(fsk_[a-z2-7]{10}_[A-Za-z0-9_-]{43})</textarea>")


def accounts(app, clock):
    with app.app_context():
        own, other = make_clinic(db.session, clock()), make_clinic(db.session, clock())
        for role in ("clinic_manager", "state_admin"):
            staff.create_user(
                db.session,
                email=f"{role}@keys.example",
                display_name=role,
                role=role,
                password=PASSWORD,
                now=clock(),
                clinic_ids=(own.id,) if role == "clinic_manager" else (),
                totp_secret=TOTP if role == "state_admin" else None,
            )
        db.session.commit()
        return own.id, other.id


def test_a_manager_makes_rotates_and_revokes_a_key(app, clock):
    own, _other = accounts(app, clock)
    client = signed_in_client(app, "clinic_manager@keys.example", PASSWORD, clock())
    url = f"/clinic/{own}/api-keys"
    token = csrf_from(client.get(url).get_data(as_text=True))
    empty = client.post(url, data={"csrf_token": token, "name": " \t "})
    assert empty.status_code == 422
    made = client.post(url, data={"csrf_token": token, "name": "Front desk"})
    assert made.status_code == 201
    (secret,) = KEY_RE.findall(made.get_data(as_text=True))
    listing = client.get(url).get_data(as_text=True)
    assert secret not in listing and secret[:14] in listing  # shown once; the prefix stays
    with app.app_context():
        key = db.session.scalars(select(ClinicApiKey)).one()
        assert secret not in (key.secret_hash, key.prefix, key.name)
        key_id = key.id
    rotated = client.post(f"{url}/{key_id}/rotate", data={"csrf_token": token})
    (fresh,) = KEY_RE.findall(rotated.get_data(as_text=True))
    assert fresh != secret
    revoked = client.post(f"{url}/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert client.post(f"{url}/{key_id}/rotate", data={"csrf_token": token}).status_code == 422
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.startswith("clinic.api_key"))
            .order_by(AuditEntry.id)
        ).all()
    assert actions[-3:] == [
        "clinic.api_key_created",
        "clinic.api_key_rotated",
        "clinic.api_key_revoked",
    ]


def test_a_state_admin_lets_a_key_act_for_a_chains_clinics(app, clock):
    own, other = accounts(app, clock)
    manager = signed_in_client(app, "clinic_manager@keys.example", PASSWORD, clock())
    url = f"/clinic/{own}/api-keys"
    token = csrf_from(manager.get(url).get_data(as_text=True))
    manager.post(url, data={"csrf_token": token, "name": "Chain sync"})
    with app.app_context():
        key_id = db.session.scalars(select(ClinicApiKey.id)).one()
    # A manager may not widen a key's scope (the matrix checks the 403 for every route too).
    assert (
        manager.post(
            f"{url}/{key_id}/clinics", data={"csrf_token": token, "clinic_ids": [other]}
        ).status_code
        == 403
    )
    admin = signed_in_client(app, "state_admin@keys.example", PASSWORD, clock())
    admin_token = csrf_from(admin.get(url).get_data(as_text=True))
    bad = admin.post(
        f"{url}/{key_id}/clinics", data={"csrf_token": admin_token, "clinic_ids": ["x\x00"]}
    )
    assert bad.status_code in (400, 422)
    saved = admin.post(
        f"{url}/{key_id}/clinics", data={"csrf_token": admin_token, "clinic_ids": [str(other)]}
    )
    assert saved.status_code == 303
    with app.app_context():
        assert db.session.scalars(select(ClinicApiKeyClinic.clinic_id)).all() == [other]


def test_the_audit_log_names_the_key_that_acted(app, clock):
    own, _other = accounts(app, clock)
    with app.app_context():
        made = api_keys.create_key(
            db.session, own, "EHR", secret_key=app.config["SECRET_KEY"], actor=None, now=clock()
        )
        db.session.commit()
        prefix, secret = made.key.prefix, made.secret
    roster = app.test_client().get(
        f"/api/v1/clinic-systems/clinics/{own}/roster?date=2026-03-03",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert roster.status_code == 200
    admin = signed_in_client(app, "state_admin@keys.example", PASSWORD, clock())
    page = admin.get("/admin/audit?action=clinic_api.").get_data(as_text=True)
    assert "Clinic system (API key)" in page and prefix in page
