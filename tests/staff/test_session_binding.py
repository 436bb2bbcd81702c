"""A new browser session and CSRF token at staff sign-in and sign-out, bound to the staff session.

The staff cookie and the browser session (which holds the CSRF token) are separate cookies. A
form token from before sign-in, from before sign-out, or from another browser's session sent
beside a staff cookie must not pass.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from booking.db import db
from booking.models import StaffUser
from booking.web.access import STAFF_COOKIE
from tests.staff.support import admin_client, sign_in
from tests.support import csrf_from

HOST = "fairslot.test"
AGENT = "agent@example.org"


def token_of(client: Any, url: str = "/staff/") -> str:
    return csrf_from(client.get(url).get_data(as_text=True))


def cookie(client: Any, name: str) -> str:
    found = client.get_cookie(name, domain=HOST)
    assert found is not None, name
    return str(found.value)


def test_a_token_from_before_sign_in_fails_after_it(app: Flask, accounts: Any) -> None:
    client = app.test_client()
    before = token_of(client, "/staff/sign-in")
    anonymous_session = cookie(client, "session")
    assert sign_in(client, AGENT).status_code == 303
    assert cookie(client, "session") != anonymous_session
    assert client.post("/staff/sign-out", data={"csrf_token": before}).status_code == 400
    assert client.get("/staff/").status_code == 200  # still signed in
    after = token_of(client)
    assert after != before
    assert client.post("/staff/sign-out", data={"csrf_token": after}).status_code == 303


def test_a_token_from_before_sign_out_fails_after_it(app: Flask, accounts: Any) -> None:
    client = app.test_client()
    sign_in(client, AGENT)
    signed_in = token_of(client)
    assert client.post("/staff/sign-out", data={"csrf_token": signed_in}).status_code == 303
    form = {"email": AGENT, "password": "x", "csrf_token": signed_in}
    assert client.post("/staff/sign-in", data=form).status_code == 400
    assert token_of(client, "/staff/sign-in") != signed_in


def test_another_browsers_session_beside_a_staff_cookie_is_refused(
    app: Flask, accounts: Any
) -> None:
    agent = app.test_client()
    sign_in(agent, AGENT)
    # The attacker's own anonymous session and its valid token, sent with the agent's cookie
    # (as a planted session cookie would be, beside the browser's own staff cookie).
    attacker = app.test_client()
    planted = token_of(attacker, "/staff/sign-in")
    attacker.set_cookie(STAFF_COOKIE, cookie(agent, STAFF_COOKIE), domain=HOST)
    refused = attacker.post("/staff/sign-out", data={"csrf_token": planted})
    assert refused.status_code == 400
    assert agent.get("/staff/").status_code == 200  # the agent's session was not ended


def test_a_forged_change_with_a_planted_session_changes_nothing(
    app: Flask, accounts: Any, clock: Any
) -> None:
    admin = admin_client(app, clock)
    attacker = app.test_client()
    planted = token_of(attacker, "/staff/sign-in")
    attacker.set_cookie(STAFF_COOKIE, cookie(admin, STAFF_COOKIE), domain=HOST)
    agent_id = accounts["agent"][0]
    form = {"action": "deactivate", "csrf_token": planted}
    assert attacker.post(f"/admin/accounts/{agent_id}", data=form).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(StaffUser.active).where(StaffUser.id == agent_id))


def test_a_page_view_binds_a_fresh_session(app: Flask, accounts: Any) -> None:
    agent = app.test_client()
    sign_in(agent, AGENT)
    other = app.test_client()
    token_of(other, "/staff/sign-in")  # an unrelated session ...
    other.set_cookie(STAFF_COOKIE, cookie(agent, STAFF_COOKIE), domain=HOST)
    fresh = token_of(other)  # ... replaced by one of this staff session's on a page view
    assert other.post("/staff/sign-out", data={"csrf_token": fresh}).status_code == 303
