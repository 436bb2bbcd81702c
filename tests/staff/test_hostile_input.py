"""Hostile values on the staff pages: a clear 4xx and nothing written, never a 500.

Each case is one that answered 500 before: a NUL byte reaching PostgreSQL ("text fields cannot
contain NUL"), a date so late that the day after it overflows, an unknown clinic id hitting a
foreign key. Run on PostgreSQL, where the NUL failure shows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import AuditEntry, EligibilityRule, Slot, StaffClinic, StaffUser
from tests.staff.agent_support import make_accounts, sign_in
from tests.support import csrf_from

NUL = "a\x00b"


@pytest.fixture
def world(app: Any, clock: Any) -> dict[str, Any]:
    """The console's accounts and clinic, and a client signed in as its state admin."""
    ids = make_accounts(app, clock())
    ids["client"] = sign_in(app, "admin", clock())
    return ids


def token(client: Any) -> str:
    return csrf_from(client.get("/staff/").get_data(as_text=True))


def counts(app: Any) -> tuple[int, ...]:
    """Rows that a refused request must not have added or changed."""
    with app.app_context():
        s = db.session
        rows = [
            s.scalar(select(func.count()).select_from(model))
            for model in (StaffUser, StaffClinic, EligibilityRule)
        ]
        return (*rows, s.scalar(select(func.coalesce(func.sum(Slot.phone_reserved), 0))))


def audit_count(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0


ACCOUNT = {
    "email": "new@console.example",
    "display_name": "New",
    "role": "clinic_staff",
    "password": "a long enough password",
}
RULE = {
    "service": "covid19",
    "phase": "Phase 9",
    "min_age_years": "65",
    "effective_from": "2026-03-01",
}


@pytest.mark.parametrize(
    "field",
    ["actor", "action", "record_type", "record_id"],
)
def test_audit_filter_with_nul(app: Any, world: dict[str, Any], field: str) -> None:
    response = world["client"].get("/admin/audit", query_string={field: NUL})
    assert response.status_code == 400
    assert "characters" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["9999-12-31", "12/31/9999", "0001-01-01"])
def test_audit_dates_out_of_range(app: Any, world: dict[str, Any], value: str) -> None:
    for field in ("from", "to"):
        response = world["client"].get("/admin/audit", query_string={field: value})
        assert response.status_code == 422, (field, value)
        assert "Check the year." in response.get_data(as_text=True)


def test_roster_search_with_nul(app: Any, world: dict[str, Any]) -> None:
    url = f"/clinic/{world['clinic']}/roster"
    response = world["client"].get(url, query_string={"q": NUL})
    assert response.status_code == 400
    assert world["client"].get(url, query_string={"q": "a\tb"}).status_code == 200


@pytest.mark.parametrize("field", ["email", "display_name", "password"])
def test_account_form_with_nul(app: Any, world: dict[str, Any], field: str) -> None:
    before, audited = counts(app), audit_count(app)
    client = world["client"]
    response = client.post(
        "/admin/accounts", data={**ACCOUNT, field: NUL, "csrf_token": token(client)}
    )
    assert response.status_code == 400
    assert counts(app) == before and audit_count(app) == audited


@pytest.mark.parametrize("clinic_id", ["999999", "0", "2147483647"])
def test_account_form_with_unknown_clinic(app: Any, world: dict[str, Any], clinic_id: str) -> None:
    before, audited = counts(app), audit_count(app)
    client = world["client"]
    response = client.post(
        "/admin/accounts",
        data={
            **ACCOUNT,
            "clinic_ids": [str(world["clinic"]), clinic_id],
            "csrf_token": token(client),
        },
    )
    assert response.status_code == 422
    assert "clinic" in response.get_data(as_text=True).lower()
    assert counts(app) == before and audit_count(app) == audited


@pytest.mark.parametrize("clinic_id", ["abc", "-1", "1" * 12, "1.5"])
def test_account_form_with_malformed_clinic(
    app: Any, world: dict[str, Any], clinic_id: str
) -> None:
    before = counts(app)
    client = world["client"]
    response = client.post(
        "/admin/accounts",
        data={**ACCOUNT, "clinic_ids": clinic_id, "csrf_token": token(client)},
    )
    assert response.status_code == 422
    assert counts(app) == before


def test_account_form_with_known_clinic_still_works(app: Any, world: dict[str, Any]) -> None:
    client = world["client"]
    response = client.post(
        "/admin/accounts",
        data={**ACCOUNT, "clinic_ids": str(world["clinic"]), "csrf_token": token(client)},
    )
    assert response.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == ACCOUNT["email"]))
        assert user is not None
        links = db.session.scalars(select(StaffClinic).where(StaffClinic.user_id == user.id))
        assert [link.clinic_id for link in links] == [world["clinic"]]


@pytest.mark.parametrize("field", ["phase", "service", "min_age_years", "effective_from"])
def test_eligibility_form_with_nul(app: Any, world: dict[str, Any], field: str) -> None:
    before = counts(app)
    client = world["client"]
    response = client.post(
        "/admin/eligibility", data={**RULE, field: NUL, "csrf_token": token(client)}
    )
    assert response.status_code == 400
    assert counts(app) == before


def test_eligibility_rule_far_in_the_future(app: Any, world: dict[str, Any]) -> None:
    before = counts(app)
    client = world["client"]
    response = client.post(
        "/admin/eligibility",
        data={**RULE, "effective_from": "9999-12-31", "csrf_token": token(client)},
    )
    assert response.status_code == 422
    assert counts(app) == before


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "12/31/9999"])
def test_set_aside_day_out_of_range(app: Any, world: dict[str, Any], day: str) -> None:
    before, audited = counts(app), audit_count(app)
    client = world["client"]
    response = client.post(
        f"/admin/clinics/{world['clinic']}/set-aside",
        data={"day": day, "percent": "20", "cutoff_hours": "24", "csrf_token": token(client)},
    )
    assert response.status_code == 422
    assert "Check the year." in response.get_data(as_text=True)
    assert counts(app) == before and audit_count(app) == audited


def test_set_aside_day_with_nul(app: Any, world: dict[str, Any]) -> None:
    client = world["client"]
    response = client.post(
        f"/admin/clinics/{world['clinic']}/set-aside",
        data={"day": NUL, "percent": "20", "cutoff_hours": "24", "csrf_token": token(client)},
    )
    assert response.status_code == 400


def test_account_form_with_an_overlong_name(app: Any, world: dict[str, Any]) -> None:
    before = counts(app)
    client = world["client"]
    response = client.post(
        "/admin/accounts", data={**ACCOUNT, "display_name": "n" * 121, "csrf_token": token(client)}
    )
    assert response.status_code == 422 and "Use at most 120 characters." in response.text
    assert counts(app) == before


def test_account_without_a_name_and_with_a_long_email(app: Any, world: dict[str, Any]) -> None:
    email = "a" * 150 + "@console.example"  # the name falls back to the email, cut to fit
    client = world["client"]
    data = {**ACCOUNT, "email": email, "display_name": "", "role": "agent"}
    data["csrf_token"] = token(client)
    assert client.post("/admin/accounts", data=data).status_code == 303
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.email == email))
        assert user is not None and user.display_name == email[:120]


def test_account_form_with_a_clinic_named_twice(app: Any, world: dict[str, Any]) -> None:
    client = world["client"]
    twice = [str(world["clinic"])] * 2
    data = {**ACCOUNT, "clinic_ids": twice, "csrf_token": token(client)}
    assert client.post("/admin/accounts", data=data).status_code == 303
    with app.app_context():
        links = db.session.scalars(
            select(StaffClinic.clinic_id).join(StaffUser).where(StaffUser.email == ACCOUNT["email"])
        )
        assert list(links) == [world["clinic"]]
