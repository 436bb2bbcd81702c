"""Helpers for the staff tests: signing in, with or without the second factor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyotp
from flask import Flask

from tests.support import csrf_from

# The ``accounts`` fixture's password.
PASSWORD = "correct horse battery"
# Admins need a second factor; a known secret lets a test pass it.
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def sign_in(client: Any, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    """Post the sign-in form (the first factor only); return the response."""
    page = client.get("/staff/sign-in")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/staff/sign-in",
        data={"email": email, "password": password, "csrf_token": token},
        **extra,
    )


def admin_client(app: Flask, clock: Any) -> Any:
    """A client signed in as the ``accounts`` admin, enrolled in TOTP on the way."""
    client = app.test_client()
    sign_in(client, "admin@example.org")
    with client.session_transaction() as s:
        secret = s["staff_enrol_secret"]
    page = client.get("/staff/two-factor").get_data(as_text=True)
    client.post(
        "/staff/two-factor",
        data={"code": pyotp.TOTP(secret).at(clock()), "csrf_token": csrf_from(page)},
    )
    return client


def signed_in_client(app: Flask, email: str, password: str, now: datetime) -> Any:
    """A client signed in as ``email``, passing the second factor of accounts made with TOTP."""
    client = app.test_client()
    response = sign_in(client, email, password)
    if response.headers.get("Location", "").endswith("/staff/two-factor"):
        page = client.get("/staff/two-factor").get_data(as_text=True)
        client.post(
            "/staff/two-factor",
            data={"code": pyotp.TOTP(TOTP).at(now), "csrf_token": csrf_from(page)},
        )
    assert client.get("/staff/").status_code == 200, email
    return client
