"""The state admins' console: clinics, staff accounts, dashboard and audit-log search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry, Clinic, StaffUser
from booking.services import holds, reservations
from tests.staff.support import admin_client, sign_in
from tests.support import ANSWERS, csrf_from, make_clinic, make_slot, person

CLINIC_FORM = {
    "name": "Worcester Senior Center",
    "address_line": "128 Providence Street",
    "city": "Worcester",
    "state": "ma",
    "postal_code": "01604",
    "latitude": "42.2540",
    "longitude": "-71.7930",
    "phone": "508-799-1232",
    "timezone": "America/New_York",
    "services": ["covid19", "flu"],
}


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def token(client, path):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_admin_adds_edits_and_deactivates_a_clinic(app, admin):
    csrf = token(admin, "/admin/clinics/new")
    bad = admin.post(
        "/admin/clinics/new",
        data={**CLINIC_FORM, "postal_code": "1604", "latitude": "north", "csrf_token": csrf},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Enter a 5-digit ZIP code." in page and "Enter a number." in page
    with app.app_context():
        assert db.session.scalar(select(Clinic).where(Clinic.name == CLINIC_FORM["name"])) is None
    good = admin.post("/admin/clinics/new", data={**CLINIC_FORM, "csrf_token": csrf})
    assert good.status_code == 303
    with app.app_context():
        clinic = db.session.scalars(select(Clinic).where(Clinic.name == CLINIC_FORM["name"])).one()
        assert (clinic.state, clinic.services, clinic.active) == ("MA", ["covid19", "flu"], True)
        clinic_id = clinic.id
    assert admin.get("/api/v1/clinics?zip=01604&radius_miles=5").json["clinics"][0]["id"] == (
        clinic_id
    )
    edit = f"/admin/clinics/{clinic_id}/edit"
    csrf = token(admin, edit)
    admin.post(edit, data={**CLINIC_FORM, "name": "Worcester Senior Ctr", "csrf_token": csrf})
    admin.post(edit, data={**CLINIC_FORM, "action": "deactivate", "csrf_token": csrf})
    with app.app_context():
        clinic = db.session.get(Clinic, clinic_id)
        assert (clinic.name, clinic.active) == ("Worcester Senior Ctr", False)
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.record_type == "clinic")
        ).all()
        assert actions == ["clinic.create", "clinic.save", "clinic.deactivate"]
    # Deactivated clinics disappear from residents' searches.
    assert admin.get("/api/v1/clinics?zip=01604&radius_miles=5").json["clinics"] == []
    assert admin.get("/admin/clinics/99999/edit").status_code == 404


def test_admin_manages_staff_accounts(app, admin, accounts):
    csrf = token(admin, "/admin/accounts")
    short = admin.post(
        "/admin/accounts",
        data={"email": "n@example.org", "role": "agent", "password": "short", "csrf_token": csrf},
    )
    assert short.status_code == 422
    assert "at least 12 characters" in short.get_data(as_text=True)
    made = admin.post(
        "/admin/accounts",
        data={
            "email": "new.agent@example.org",
            "role": "agent",
            "display_name": "New",
            "csrf_token": csrf,
            "password": "a long enough password",
        },
    )
    assert made.status_code == 303
    user_id = accounts["agent"][0]
    admin.post(f"/admin/accounts/{user_id}", data={"action": "deactivate", "csrf_token": csrf})
    with app.app_context():
        assert db.session.get(StaffUser, user_id).active is False
        assert db.session.scalar(
            select(StaffUser.id).where(StaffUser.email == "new.agent@example.org")
        )
    assert sign_in(app.test_client(), "agent@example.org").status_code == 401
    weird = admin.post(f"/admin/accounts/{user_id}", data={"action": "delete", "csrf_token": csrf})
    assert weird.status_code == 400
    own = admin.post(
        f"/admin/accounts/{accounts['admin'][0]}", data={"action": "deactivate", "csrf_token": csrf}
    )
    assert own.status_code == 409


def test_audit_log_search(app, admin):
    csrf = token(admin, "/admin/clinics/new")
    admin.post("/admin/clinics/new", data={**CLINIC_FORM, "csrf_token": csrf})
    found = admin.get("/admin/audit?action=clinic.&actor=admin@").get_data(as_text=True)
    assert "clinic.create" in found and "admin@example.org" in found
    none = admin.get("/admin/audit?action=nothing.like.this").get_data(as_text=True)
    assert "clinic.create" not in none
    assert admin.get("/admin/audit?from=2021-02-30").status_code == 422
    assert admin.get("/admin/audit?page=999999999999").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/admin/clinics", "/admin/dashboard", "/admin/accounts", "/admin/audit", "/admin/clinics/new"],
)
def test_admin_pages_refuse_other_roles(app, accounts, path):
    client = app.test_client()
    assert client.get(path).status_code == 302  # signed out: to the sign-in page
    sign_in(client, "agent@example.org")
    assert client.get(path).status_code == 403


def test_admin_sees_messages_and_retries_a_failed_one(app, admin, clock):
    from booking.models import OutboxMessage

    with app.app_context():
        clinic = make_clinic(db.session, clock())
        slot = make_slot(db.session, clinic, clock() + timedelta(days=2))
        hold = holds.place_hold(db.session, slot.id, now=clock(), hold_minutes=10)
        reservations.confirm_hold(
            db.session,
            hold.hold_token,
            person(7),
            now=clock(),
            secret_key="k",
            answers=ANSWERS,
            admission_ticket=None,
        )
        message = db.session.scalars(select(OutboxMessage)).first()
        message.status, message.attempts, message.last_error = "failed", 3, "provider said 500"
        db.session.commit()
        message_id = message.id
    page = admin.get("/admin/messages?status=failed")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "provider said 500" in body and message.recipient in body
    retried = admin.post(
        f"/admin/messages/{message_id}/retry", data={"csrf_token": csrf_from(body)}
    )
    assert retried.status_code == 303
    again = admin.post(f"/admin/messages/{message_id}/retry", data={"csrf_token": csrf_from(body)})
    assert again.status_code == 409
    with app.app_context():
        assert db.session.get(OutboxMessage, message_id).status == "queued"
        actions = db.session.scalars(select(AuditEntry.action)).all()
        assert "messages.retry" in actions and "messages.view" in actions
