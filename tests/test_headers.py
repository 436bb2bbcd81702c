"""The security headers, on every kind of response, and pages that need no inline code."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from booking.db import db
from tests.conftest import rolled_back_app
from tests.support import DOB, csrf_from, make_clinic, make_slot

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def directives(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize(
    "url", ["/", "/search?zip=02115", "/api/v1/clinics?zip=02115", "/staff/sign-in", "/nowhere",
            "/static/fairslot.css", "/healthz", "/api/openapi.json"],
)  # fmt: skip
def test_every_response_carries_the_headers(client: Any, url: str) -> None:
    response = client.get(url)
    csp = directives(response)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"  # nothing inline
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer")
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # not in tests: plain http


def test_urls_that_carry_a_secret_send_no_referrer(app: Any, client: Any, now: Any) -> None:
    assert client.get("/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    with app.app_context():
        slot = make_slot(db.session, make_clinic(db.session, now), now + timedelta(days=1)).id
        db.session.commit()
    token = csrf_from(client.get("/lookup").get_data(as_text=True))
    held = client.post(f"/slots/{slot}/hold", data={"csrf_token": token, "date_of_birth": DOB})
    hold_page = client.get(held.headers["Location"])  # /book/<hold id>
    assert hold_page.status_code == 200
    assert hold_page.headers["Referrer-Policy"] == "no-referrer"
    for url in ("/manage/not-a-real-token", "/api/v1/reservations/ABCD2345?date_of_birth=x"):
        assert client.get(url).headers["Referrer-Policy"] == "no-referrer", url
    assert client.get(f"/clinics/{slot}").headers["Referrer-Policy"] != "no-referrer"


def test_production_adds_strict_transport_security(
    database_url: str, clock: Any, tmp_path: Any
) -> None:
    settings = {"FAIRSLOT_ENV": "production", "SECRET_KEY": "k" * 40,
                "PUBLIC_URL": "https://fairslot.test"}  # fmt: skip
    with rolled_back_app(database_url, clock, tmp_path, **settings) as app:
        response = app.test_client().get("/", base_url="https://fairslot.test")
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_hcaptcha_hosts_are_allowed_only_when_it_is_on(app: Any, client: Any) -> None:
    assert "hcaptcha" not in client.get("/").headers["Content-Security-Policy"]
    app.config.update(HCAPTCHA_SITE_KEY="site", HCAPTCHA_SECRET="secret")
    csp = directives(client.get("/"))
    for name in ("script-src", "style-src", "frame-src", "connect-src"):
        assert "https://*.hcaptcha.com" in csp[name], name
    assert csp["frame-ancestors"] == "'none'"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=\s*[\"']", re.I), "an inline event handler"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_no_page_template_has_inline_script_or_style() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        if "messages" in path.relative_to(TEMPLATES).parts:
            continue  # emails: read in a mail client, never under the site's policy
        source = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {what}" for pattern, what in INLINE if pattern.search(source)]
    assert found == []
