"""Staff sign-in: Argon2id, lockout, CSRF, TOTP, server-side sessions and timeouts; the admin
waiting-room view; the append-only audit log."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from booking.db import db
from booking.models import AuditEntry, StaffSession, StaffUser
from booking.services import staff
from booking.web.access import STAFF_COOKIE
from booking.web.queue_state import get_queue
from tests.conftest import CHEAP_HASHER, rolled_back_app
from tests.staff.support import PASSWORD, admin_client, sign_in
from tests.support import DOB, csrf_from, make_clinic


def test_passwords_are_argon2id(app, accounts):
    with app.app_context():
        user = db.session.get(StaffUser, accounts["agent"][0])
        assert user.password_hash.startswith("$argon2id$")
        assert user.email == "agent@example.org"


def test_production_hashes_with_rfc_9106_parameters_and_upgrades_cheaper_hashes(
    app, accounts, clock
):
    # The suite hashes cheaply (conftest); what production uses, and what it does with a hash
    # made with weaker parameters, is checked here.
    default = staff.DEFAULT_HASHER
    assert (default.time_cost, default.memory_cost, default.parallelism) == (3, 65536, 4)
    with app.app_context():
        user = db.session.get(StaffUser, accounts["agent"][0])
        assert ",t=1," in user.password_hash  # made by the suite's cheap hasher
        staff.use_password_hasher(default)
        try:
            staff.authenticate(db.session, user.email, PASSWORD, now=clock(), policy=staff.Policy())
        finally:
            staff.use_password_hasher(CHEAP_HASHER)
        assert "$m=65536,t=3,p=4$" in user.password_hash


def test_sign_in_renews_the_session_and_opens_the_console(app, accounts):
    client = app.test_client()
    client.get("/staff/sign-in")
    with client.session_transaction() as before:
        before["planted"] = "attacker-chosen"
        old_csrf = before.get("csrf_token")
    response = sign_in(client, "agent@example.org")
    assert response.status_code == 303
    cookie = client.get_cookie(STAFF_COOKIE, domain="fairslot.test")
    assert cookie is not None and cookie.http_only
    with client.session_transaction() as after:
        assert "planted" not in after  # nothing from before sign-in survives
        assert after.get("csrf_token") != old_csrf
    home = client.get("/staff/")
    assert home.status_code == 200
    assert "Hello, Agent" in home.get_data(as_text=True)
    # A second sign-in gets a different session secret.
    first = cookie.value
    client.post("/staff/sign-out", data={"csrf_token": csrf_from(home.get_data(as_text=True))})
    sign_in(client, "agent@example.org")
    assert client.get_cookie(STAFF_COOKIE, domain="fairslot.test").value != first


def test_wrong_password_and_unknown_email_answer_alike(app, accounts):
    client = app.test_client()
    wrong = sign_in(client, "agent@example.org", "not the password")
    unknown = sign_in(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not right." in wrong.get_data(as_text=True)
    assert "The email or password is not right." in unknown.get_data(as_text=True)


def test_lockout_after_repeated_failures(app, accounts, clock):
    app.config["STAFF_SIGNIN_RATE_LIMIT"] = "1000 per minute"
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "agent@example.org", "wrong password!").status_code == 401
    locked = sign_in(client, "agent@example.org")  # even the right password is refused now
    assert locked.status_code == 423
    assert "locked" in locked.get_data(as_text=True)
    clock.advance(timedelta(minutes=16))
    assert sign_in(client, "agent@example.org").status_code == 303


def test_csrf_token_is_required(app, accounts):
    response = app.test_client().post(
        "/staff/sign-in", data={"email": "agent@example.org", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert app.test_client().get_cookie(STAFF_COOKIE, domain="fairslot.test") is None


def test_sign_in_is_rate_limited(app, accounts):
    app.config["STAFF_SIGNIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    statuses = [sign_in(client, "agent@example.org", "wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_state_admins_must_use_a_second_factor(app, accounts, clock):
    client = app.test_client()
    response = sign_in(client, "admin@example.org")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/two-factor")
    assert client.get("/staff/").status_code == 302  # not signed in yet
    page = client.get("/staff/two-factor").get_data(as_text=True)
    with client.session_transaction() as s:
        secret = s["staff_enrol_secret"]
    assert secret in page
    token = csrf_from(page)
    bad = client.post("/staff/two-factor", data={"code": "000000", "csrf_token": token})
    assert bad.status_code == 401
    code = pyotp.TOTP(secret).at(clock())
    good = client.post("/staff/two-factor", data={"code": code, "csrf_token": token})
    assert good.status_code == 303
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        assert db.session.get(StaffUser, accounts["admin"][0]).totp_secret == secret


def test_sign_out_ends_the_session_on_the_server(app, accounts):
    client = app.test_client()
    sign_in(client, "agent@example.org")
    stolen = client.get_cookie(STAFF_COOKIE, domain="fairslot.test").value
    home = client.get("/staff/").get_data(as_text=True)
    client.post("/staff/sign-out", data={"csrf_token": csrf_from(home)})
    thief = app.test_client()
    thief.set_cookie(STAFF_COOKIE, stolen, domain="fairslot.test")
    assert thief.get("/staff/").status_code == 302


def test_idle_and_absolute_timeouts(app, accounts, clock):
    client = app.test_client()
    sign_in(client, "agent@example.org")
    clock.advance(timedelta(minutes=29))
    assert client.get("/staff/").status_code == 200
    clock.advance(timedelta(minutes=31))
    assert client.get("/staff/").status_code == 302  # idle too long
    sign_in(client, "agent@example.org")
    for _ in range(24):  # active every 29 minutes (11.6 hours): still signed in
        clock.advance(timedelta(minutes=29))
        assert client.get("/staff/").status_code == 200
    for _ in range(2):  # past 12 hours, however active, the session ends
        clock.advance(timedelta(minutes=29))
        client.get("/staff/")
    assert client.get("/staff/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(StaffSession.id).limit(1)) is not None


def test_admin_queue_view_and_controls(database_url, clock, tmp_path, accounts, app):
    client = admin_client(app, clock)
    page = client.get("/admin/queue")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for label in (
        "People waiting",
        "Active users",
        "Admitted in the last minute",
        "Estimated time to clear the line",
        "Appointments still free",
    ):
        assert label in body
    token = csrf_from(body)
    saved = client.post(
        "/admin/queue",
        data={
            "mode": "paused",
            "max_active": "42",
            "paused_message": "Back at noon",
            "csrf_token": token,
        },
    )
    assert saved.status_code == 303
    with app.app_context():
        settings = get_queue().settings()
        assert (settings.mode, settings.max_active) == ("paused", 42)
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "queue.settings")
        ).one()
        assert entry.actor_role == "state_admin"
        assert entry.detail["mode"]["to"] == "paused"
        assert entry.request_id
    refused = client.post("/admin/queue", data={"mode": "sometimes", "csrf_token": token})
    assert refused.status_code == 422
    with app.app_context():
        ticket = get_queue().join(binding="api", now=clock().timestamp()).ticket
    revoked = client.post("/admin/queue/revoke", data={"ticket": ticket, "csrf_token": token})
    assert revoked.status_code == 303
    with app.app_context():
        assert get_queue().touch(ticket, now=clock().timestamp()) == "revoked"


@pytest.mark.parametrize("who", ["agent", "clinic", None])
def test_only_state_admins_reach_the_queue_controls(app, accounts, who):
    client = app.test_client()
    if who:
        sign_in(client, accounts[who][1])
    view = client.get("/admin/queue")
    change = client.post("/admin/queue", data={"mode": "off"})
    if who is None:
        assert view.status_code == 302 and "/staff/sign-in" in view.headers["Location"]
    else:
        assert view.status_code == 403
    assert change.status_code in (302, 400, 403)
    with app.app_context():
        assert get_queue().settings().mode == "off"  # unchanged (the test default)


def test_every_staff_route_declares_its_roles(app):
    public = {"staff.sign_in", "staff.second_factor", "staff.sign_out"}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/staff", "/admin")) and rule.endpoint not in public:
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "required_roles", None), rule.endpoint


def test_audit_rows_cannot_be_changed_or_deleted(app, accounts, clock):
    with app.app_context():
        user = db.session.get(StaffUser, accounts["agent"][0])
        entry = staff.record_audit(db.session, actor=user, action="test.view", now=clock())
        db.session.commit()
        for sql in (
            "UPDATE audit_log SET action = 'tampered' WHERE id = :id",
            "DELETE FROM audit_log WHERE id = :id",
        ):
            with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
                db.session.execute(text(sql), {"id": entry.id})
        assert db.session.get(AuditEntry, entry.id, populate_existing=True).action == "test.view"


def test_signed_in_agents_skip_the_waiting_room(database_url, clock, tmp_path):
    from booking.models import Slot  # noqa: F401 - models registered
    from tests.support import make_slot

    with rolled_back_app(database_url, clock, tmp_path, QUEUE_MODE="always") as app:
        with app.app_context():
            clinic = make_clinic(db.session, clock())
            slot = make_slot(db.session, clinic, clock() + timedelta(days=1))
            staff.create_user(
                db.session,
                email="a2@example.org",
                display_name="A",
                role="agent",
                password=PASSWORD,
                now=clock(),
            )
            db.session.commit()
            slot_id, clinic_id = slot.id, clinic.id
        resident = app.test_client()
        page = resident.get(f"/clinics/{clinic_id}").get_data(as_text=True)
        held = resident.post(f"/slots/{slot_id}/hold", data={"csrf_token": csrf_from(page)})
        assert "/waiting-room" in held.headers["Location"]
        agent = app.test_client()
        sign_in(agent, "a2@example.org")
        page = agent.get(f"/clinics/{clinic_id}").get_data(as_text=True)
        # The date of birth is asked before any hold (issue 17); the line is not.
        form = {"csrf_token": csrf_from(page), "date_of_birth": DOB}
        held = agent.post(f"/slots/{slot_id}/hold", data=form)
        assert "/book/" in held.headers["Location"]


def test_create_user_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "new@example.org",
            "--role",
            "agent",
            "--password",
            "a long enough password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created agent new@example.org" in result.output
    short = runner.invoke(
        args=["create-user", "--email", "x@example.org", "--role", "agent", "--password", "short"]
    )
    assert short.exit_code != 0
    assert "at least 12 characters" in short.output
    clinicless = runner.invoke(
        args=[
            "create-user",
            "--email",
            "y@example.org",
            "--role",
            "clinic_staff",
            "--password",
            "a long enough password",
        ]
    )
    assert "at least one clinic" in clinicless.output
