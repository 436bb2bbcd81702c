"""The audit log reads like a record: details as key and value lines, who by name, email and
role, times in the state's zone, and the filters kept in the form and in the page links."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from booking.db import db
from booking.models import StaffUser
from booking.services import staff as staff_service
from booking.services.audit_log import PAGE, AuditFilters, detail_lines, search
from tests.staff.admin_support import statements_for
from tests.staff.support import admin_client


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def record(app, action, at, actor_email="admin@example.org", **fields):
    with app.app_context():
        actor = db.session.query(StaffUser).filter_by(email=actor_email).one()
        staff_service.record_audit(db.session, actor=actor, action=action, now=at, **fields)
        db.session.commit()


def test_details_become_key_and_value_lines():
    lines = detail_lines(
        {
            "mode": {"from": "auto", "to": "paused"},
            "clinics": [3, 4],
            "slot_id": 12,
            "dose_two": None,
            "override": True,
            "changes": {"name": "New name", "capacity": {"from": 4, "to": 40}},
        }
    )
    assert [(key, str(value)) for key, value in lines] == [
        ("mode", "auto → paused"),
        ("clinics", "3, 4"),
        ("slot id", "12"),
        ("dose two", "none"),
        ("override", "yes"),
        ("changes / name", "New name"),
        ("changes / capacity", "4 → 40"),
    ]
    assert detail_lines({}) == [] and detail_lines(None) == []


def test_the_page_shows_details_as_lines_the_actor_and_the_state_s_time(app, admin):
    at = datetime(2026, 3, 2, 13, 0, 5, tzinfo=UTC)  # 8:00:05 AM in Boston
    record(
        app,
        "queue.settings",
        at,
        record_type="queue",
        record_id="settings",
        detail={"mode": {"from": "auto", "to": "paused"}},
    )
    page = admin.get("/admin/audit?action=queue.").get_data(as_text=True)
    assert "<dt>mode</dt><dd>auto → paused</dd>" in page
    assert '{"' not in page and "&#34;" not in page  # no JSON left
    assert '<time datetime="2026-03-02T13:00:05+00:00">Mar 2, 2026, 8:00:05 AM</time>' in page
    assert "Times are Eastern time." in page
    assert "Admin" in page and "admin@example.org" in page and "state admin" in page
    spanish = admin.get("/admin/audit?action=queue.", headers={"Accept-Language": "es"})
    assert "2 mar 2026, 8:00:05" in spanish.get_data(as_text=True)


def test_days_are_the_state_s_days(app, accounts):
    late = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)  # 10 PM on March 2 in Boston
    record(app, "clinic.late", late)
    with app.app_context():
        on_the_2nd = AuditFilters(
            action="clinic.late", day_from=date(2026, 3, 2), day_to=date(2026, 3, 2)
        )
        on_the_3rd = AuditFilters(action="clinic.late", day_from=date(2026, 3, 3))
        assert len(search(db.session, on_the_2nd)[0]) == 1
        assert search(db.session, on_the_3rd)[0] == []


def test_the_filters_stay_in_the_form_and_in_the_page_links(app, admin, clock):
    for n in range(PAGE + 3):
        record(app, "clinic.touch", clock(), record_type="clinic", record_id=str(n))
    first = admin.get("/admin/audit?action=clinic.&actor=admin%40example&record_type=clinic")
    page = first.get_data(as_text=True)
    assert 'id="f-action" name="action" type="text" value="clinic."' in page
    assert 'value="admin@example"' in page
    older = re.search(r'<a href="([^"]+)">Older</a>', page).group(1)
    query = parse_qs(urlsplit(unescape(older)).query)
    assert query == {
        "page": ["2"],
        "action": ["clinic."],
        "actor": ["admin@example"],
        "record_type": ["clinic"],
    }
    second = admin.get(unescape(older)).get_data(as_text=True)
    assert second.count('<th scope="row">') == 3 and "Newer" in second and ">Older<" not in second


def test_a_bad_date_is_marked_and_the_other_filters_kept(admin):
    response = admin.get("/admin/audit?from=2021-02-30&action=staff.")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="f-from"[^>]*aria-invalid="true"', page)
    assert 'value="staff."' in page


def test_a_page_of_entries_costs_the_same_statements_as_a_few(app, admin, clock):
    for n in range(3):
        record(app, "clinic.few", clock(), record_id=str(n))
    few = statements_for(app, admin, "/admin/audit?action=clinic.")
    for n in range(PAGE):
        record(app, "clinic.many", clock(), record_id=str(n), detail={"n": n})
    many = statements_for(app, admin, "/admin/audit?action=clinic.")
    assert many == few
