"""A second-factor code is accepted once: a replay inside its window is refused and audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry, StaffUser
from booking.services import staff
from tests.staff.agent_support import PASSWORD, make_accounts
from tests.staff.support import TOTP, sign_in
from tests.support import Clock, csrf_from, run_together

EMAIL = "admin@console.example"


def second_factor(client: Any, code: str) -> Any:
    """Password first, then ``code`` on the two-factor form; return the code's answer."""
    assert sign_in(client, EMAIL, PASSWORD).status_code == 303
    page = client.get("/staff/two-factor").get_data(as_text=True)
    return client.post("/staff/two-factor", data={"code": code, "csrf_token": csrf_from(page)})


def sign_out(client: Any) -> None:
    home = client.get("/staff/").get_data(as_text=True)
    client.post("/staff/sign-out", data={"csrf_token": csrf_from(home)})


def replays(app: Flask) -> list[tuple[int | None, str | None]]:
    """(actor, record) of each audited replay."""
    with app.app_context():
        query = select(AuditEntry.actor_id, AuditEntry.record_id)
        return [
            tuple(r)
            for r in db.session.execute(query.where(AuditEntry.action == "staff.totp_replay"))
        ]


def test_the_same_code_signs_in_once(app: Flask, clock: Clock) -> None:
    ids = make_accounts(app, clock())
    code = pyotp.TOTP(TOTP).at(clock())
    first = app.test_client()
    assert second_factor(first, code).status_code == 303
    assert first.get("/staff/").status_code == 200
    # Someone who watched the code being typed, with the password, seconds later:
    thief = app.test_client()
    again = second_factor(thief, code)
    assert again.status_code == 401
    assert "already used" in again.get_data(as_text=True)
    assert thief.get("/staff/").status_code == 302  # not signed in
    assert replays(app) == [(ids["admin"], str(ids["admin"]))]


def test_a_code_of_an_earlier_step_is_refused_after_a_later_one(app: Flask, clock: Clock) -> None:
    make_accounts(app, clock())
    earlier = pyotp.TOTP(TOTP).at(clock())
    clock.advance(timedelta(seconds=30))
    assert second_factor(app.test_client(), pyotp.TOTP(TOTP).at(clock())).status_code == 303
    # Still inside the drift window (one step back), but older than the code used: refused.
    assert second_factor(app.test_client(), earlier).status_code == 401
    assert len(replays(app)) == 1


def test_the_next_code_signs_in_again(app: Flask, clock: Clock) -> None:
    make_accounts(app, clock())
    client = app.test_client()
    assert second_factor(client, pyotp.TOTP(TOTP).at(clock())).status_code == 303
    sign_out(client)
    clock.advance(timedelta(seconds=30))
    assert second_factor(client, pyotp.TOTP(TOTP).at(clock())).status_code == 303
    assert client.get("/staff/").status_code == 200
    assert replays(app) == []


def test_a_wrong_code_is_not_a_replay(app: Flask, clock: Clock) -> None:
    make_accounts(app, clock())
    wrong = pyotp.TOTP(TOTP).at(clock() + timedelta(minutes=5))
    response = second_factor(app.test_client(), wrong)
    assert response.status_code == 401 and "not right" in response.get_data(as_text=True)
    assert replays(app) == []


def test_the_enrolment_code_cannot_sign_in_again(app: Flask, clock: Clock, accounts: Any) -> None:
    client = app.test_client()
    sign_in(client, "admin@example.org")
    with client.session_transaction() as s:
        secret = s["staff_enrol_secret"]
    page = client.get("/staff/two-factor").get_data(as_text=True)
    code = pyotp.TOTP(secret).at(clock())
    enrolled = client.post("/staff/two-factor", data={"code": code, "csrf_token": csrf_from(page)})
    assert enrolled.status_code == 303
    other = app.test_client()
    sign_in(other, "admin@example.org")
    page = other.get("/staff/two-factor").get_data(as_text=True)
    replay = other.post("/staff/two-factor", data={"code": code, "csrf_token": csrf_from(page)})
    assert replay.status_code == 401


def test_codes_racing_with_the_same_step_pass_once(committed_app: Flask, clock: Clock) -> None:
    with committed_app.app_context():
        user = staff.create_user(
            db.session,
            email="racer@console.example",
            display_name="Racer",
            role="state_admin",
            password=PASSWORD,
            now=clock(),
            totp_secret=TOTP,
        )
        db.session.commit()
        user_id = user.id
    code = pyotp.TOTP(TOTP).at(clock())

    def attempt(_: int) -> staff.TotpOutcome:
        with committed_app.app_context():
            return db.transaction(lambda s: staff.use_totp(s, user_id, TOTP, code, now=clock()))

    outcomes = run_together(6, attempt)
    assert outcomes.count(staff.TotpOutcome.ACCEPTED) == 1
    assert outcomes.count(staff.TotpOutcome.REPLAYED) == 5
    with committed_app.app_context():
        db.session.execute(StaffUser.__table__.delete().where(StaffUser.id == user_id))
        db.session.commit()


def test_totp_step_reads_only_ascii_digits(clock: Clock) -> None:
    code = pyotp.TOTP(TOTP).at(clock())
    assert staff.totp_step(TOTP, code, now=clock()) is not None
    assert staff.totp_step(TOTP, f"{code[:3]} {code[3:]}", now=clock()) is not None
    # Full-width digits: str.isdigit() says yes, but no authenticator shows them.
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert staff.totp_step(TOTP, full_width, now=clock()) is None
    assert staff.totp_step(TOTP, code + "0", now=clock()) is None
