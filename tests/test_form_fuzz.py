"""Generated values posted to every HTML form: never a 5xx, and nothing written when refused.

The forms are found in the app's url_map (every POST route outside the API), so a new form is
covered without editing this test. Each is posted by a client of a role its view admits
(``required_roles``: a 2-1-1 agent, a clinic's staff or manager, a state admin; a resident
for the public ones), signed in, with a valid CSRF token. Where a page the role can see
renders the form, its fields and their values are the starting point and a few of them are
replaced, dropped or joined by a stranger; otherwise the fields are drawn from every name the
templates and views use. The values: text with control characters, NUL, huge strings and any
Unicode, numbers far out of range, dates at the calendar's ends, lists, empty values. A
refused post (4xx) must leave every table as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from booking.db import db
from booking.models import Clinic, Reservation, Slot, StaffUser
from booking.models.staff import Role
from booking.services import staff
from tests.conftest import rolled_back_app
from tests.staff.agent_support import PASSWORD, make_accounts
from tests.staff.agent_support import sign_in as console_sign_in
from tests.support import Clock, csrf_from

EXAMPLES = 15  # per form
ROOT = Path(__file__).resolve().parent.parent
# Who posts a form its view admits several roles to: the narrowest first.
ACCOUNTS = {
    Role.CLINIC_STAFF: "staff",
    Role.CLINIC_MANAGER: "manager",
    Role.AGENT: "agent",
    Role.STATE_ADMIN: "admin",
}
# Signing out ends the client's session: posted last.
LAST = {"staff.sign_out"}
_NAME = re.compile(r"""(?:name=|form\[|\.get\(|\.getlist\()["']([a-z][a-z0-9_]*)["']""")
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

TEXT = st.one_of(
    st.text(max_size=30),  # any Unicode, control characters and NUL included
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),  # past the edge
    st.sampled_from(["", " ", "\x00", "x" * 20_000, "9999-12-31", "0001-01-01", "-1", "1e309"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(str),
)
VALUE = st.one_of(TEXT, st.lists(TEXT, min_size=2, max_size=3))


# What a person would type in a field a page renders empty, so that a post gets past the
# first missing field to the checks behind it (a field not named here starts empty).
VALID = {
    "email": "new.person@example.org",
    "display_name": "New Person",
    "password": "a long enough password",
    "name": "New Place",
    "address_line": "1 Main Street",
    "city": "Boston",
    "postal_code": "02115",
    "zip": "02115",
    "latitude": "42.35",
    "longitude": "-71.06",
    "phone": "617-555-0123",
    "first_name": "Maria",
    "last_name": "Lopez",
    "date_of_birth": "04/27/1950",
    "dob": "04/27/1950",
    "day": "2026-03-03",
    "date": "2026-03-03",
    "effective_from": "2026-03-02",
    "phase": "1b",
    "min_age_years": "65",
    "manifest_url": "https://feeds.example.org/$bulk-publish",
    "manufacturer": "Maker",
    "cvx_code": "207",
    "code": "ABCD2345",
    "reason": "Caller asked",
}


class _Forms(HTMLParser):
    """The POST forms of a page: their action path and each field's first value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._open = False
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = a.get("method", "get").lower() == "post"
            if self._open:
                self.forms.append((urlsplit(a.get("action", "")).path, {}))
        if not self._open:
            return
        fields = self.forms[-1][1]
        name = a.get("name", "")
        if tag in ("input", "textarea") and name and name not in fields:
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                fields[name] = a.get("value") or VALID.get(name, "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and self._select not in fields:
            fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False
        elif tag == "select":
            self._select = None


def field_names() -> list[str]:
    """Every form field name the templates render and the views read."""
    sources = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("booking/**/*.py")]
    found = {name for path in sources for name in _NAME.findall(path.read_text())}
    return sorted(found - {"csrf_token"})


def _roles(app: Flask, rule: Any) -> frozenset[str] | None:
    return getattr(app.view_functions[rule.endpoint], "required_roles", None)


def _fill(rule: Any, ids: dict[str, Any]) -> str:
    """The rule's URL with real ids (the first slot, the clinic, a spare agent's account)."""
    values = {
        "clinic_id": ids["clinic"],
        "slot_id": ids["slots"][0],
        "user_id": ids["agent2"],  # which an admin's form may lock out: nobody signs in as it
        "hold_id": "AAAAAAAAAAAAAAAAAAAAAA",
    }
    return _ARGUMENT.sub(lambda m: str(values.get(m.group(1), 1)), rule.rule)


def _who(app: Flask, rule: Any) -> str:
    roles = _roles(app, rule)
    if roles is None:
        return "resident"
    return next(name for role, name in ACCOUNTS.items() if role in roles)


def rendered_forms(app: Flask, client: Any, who: str, ids: dict[str, Any]) -> dict[str, Any]:
    """Every POST form on the pages ``who`` may see: action path -> fields and values."""
    found: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(("/api/", "/static")):
            continue
        if _who(app, rule) != who or rule.endpoint in LAST:
            continue
        page = client.get(_fill(rule, ids))
        if page.status_code == 200 and page.mimetype == "text/html":
            parser = _Forms()
            parser.feed(page.get_data(as_text=True))
            for action, fields in parser.forms:
                found.setdefault(action or urlsplit(page.request.url).path, fields)
    return found


def row_counts() -> tuple[int, ...]:
    """How many clinics, slots and reservations there are, and the places held and booked."""
    session = db.session
    return (
        session.scalar(select(func.count()).select_from(Clinic)) or 0,
        session.scalar(select(func.count()).select_from(Slot)) or 0,
        session.scalar(select(func.count()).select_from(Reservation)) or 0,
        session.scalar(select(func.count()).select_from(StaffUser)) or 0,
        session.scalar(select(func.coalesce(func.sum(Slot.held + Slot.booked), 0))) or 0,
    )


@pytest.fixture
def world(database_url: str, clock: Clock, tmp_path: Any) -> Iterator[tuple[Flask, Any]]:
    """An app with the console's accounts and a clinic manager, a clinic and its slots."""
    with rolled_back_app(database_url, clock, tmp_path) as app:
        ids = make_accounts(app, clock())
        with app.app_context():
            staff.create_user(
                db.session,
                email="manager@console.example",
                display_name="Manager",
                role=Role.CLINIC_MANAGER,
                password=PASSWORD,
                now=clock(),
                clinic_ids=(ids["clinic"],),
            )
            db.session.commit()
        yield app, ids


def _client(app: Flask, who: str, clock: Clock) -> Any:
    return app.test_client() if who == "resident" else console_sign_in(app, who, clock())


def _token(client: Any, who: str) -> str:
    """The client's CSRF token now (a sign-in attempt starts a new session, and a new token)."""
    page = client.get("/lookup" if who == "resident" else "/staff/")
    return csrf_from(page.get_data(as_text=True))


@st.composite
def _form(draw: Any, baseline: dict[str, str], names: list[str]) -> dict[str, Any]:
    """The rendered form with up to three fields changed or dropped and maybe a stranger."""
    form: dict[str, Any] = dict(baseline)
    if form:
        for name in draw(st.lists(st.sampled_from(sorted(form)), max_size=3, unique=True)):
            if draw(st.booleans()):
                form[name] = draw(VALUE)
            else:
                del form[name]
    extra = draw(st.dictionaries(st.sampled_from(names), VALUE, max_size=1 if baseline else 8))
    return {**form, **extra}


def _fuzz(app: Flask, client: Any, who: str, path: str, forms: Any) -> None:
    """Post EXAMPLES generated forms to ``path``: no 5xx, no table changed by a refusal."""
    token = [_token(client, who)]

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(form=forms)
    def post(form: dict[str, Any]) -> None:
        with app.app_context():
            before = row_counts()
        response = client.post(path, data={**form, "csrf_token": token[0]})
        assert response.status_code < 500, (path, form, response.status_code)
        if response.status_code >= 400:
            with app.app_context():
                assert row_counts() == before, ("half-written", path, form)
        else:
            token[0] = _token(client, who)  # a sign-in or sign-out starts a new session

    post()


def test_every_form_refuses_generated_values_without_a_5xx(world: Any, clock: Clock) -> None:
    app, ids = world
    names = field_names()
    assert {"first_name", "date_of_birth", "clinic_ids", "q", "phase"} <= set(names)
    routes = sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
        ),
        key=lambda rule: (rule.endpoint in LAST, rule.rule),
    )
    assert len(routes) >= 30
    # Everyone signs in first (once: a TOTP code works once), before any form changes a thing.
    clients = {who: _client(app, who, clock) for who in {_who(app, rule) for rule in routes}}
    rendered: dict[str, Any] = {}
    for who, client in clients.items():
        rendered.update(rendered_forms(app, client, who, ids))
    failures: list[str] = []
    for rule in routes:
        who = _who(app, rule)
        client = clients[who]
        path = _fill(rule, ids)
        baseline = {k: v for k, v in rendered.get(path, {}).items() if k != "csrf_token"}
        try:
            _fuzz(app, client, who, path, _form(baseline, names))
        except AssertionError as failed:
            failures.append(f"{rule.endpoint} as {who}: {failed}")
    assert not failures, "\n".join(failures)
