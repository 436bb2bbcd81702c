"""Where to report a vulnerability: /.well-known/security.txt (RFC 9116)."""

from __future__ import annotations

from typing import Any

import pytest

from booking.config import ConfigError, load_config
from tests.conftest import rolled_back_app


def fields(response: Any) -> dict[str, str]:
    lines = response.get_data(as_text=True).splitlines()
    return dict(line.split(": ", 1) for line in lines)


def test_security_txt_names_the_contact_and_expires_within_a_year(client: Any) -> None:
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = fields(response)
    # By default, security@ the public site's host (the test app's is fairslot.test).
    assert found["Contact"] == "mailto:security@fairslot.test"
    assert found["Expires"] == "2026-08-29T00:00:00Z"  # the test clock's day plus 180 days
    assert found["Canonical"] == "http://fairslot.test/.well-known/security.txt"


def test_the_configured_contact_is_served(database_url: str, clock: Any, tmp_path: Any) -> None:
    contact = "https://www.mass.example.gov/report-a-vulnerability"
    with rolled_back_app(database_url, clock, tmp_path, SECURITY_CONTACT=contact) as app:
        found = fields(app.test_client().get("/.well-known/security.txt"))
    assert found["Contact"] == contact


def test_a_contact_must_be_an_address_or_an_https_page() -> None:
    env = {"FAIRSLOT_ENV": "test", "FAIRSLOT_SECURITY_CONTACT": "security@book.example.org"}
    assert load_config(env)["SECURITY_CONTACT"] == "mailto:security@book.example.org"
    with pytest.raises((ConfigError, ValueError), match=r"FAIRSLOT_SECURITY_CONTACT|https"):
        load_config({**env, "FAIRSLOT_SECURITY_CONTACT": "javascript:alert(1)"})
