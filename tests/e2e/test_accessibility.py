"""axe-core on every resident, waiting-room, agent and clinic page, reflow at 320 CSS pixels,
and screenshots of the main pages at phone and desktop widths (saved to docs/screenshots/).

Each test walks one journey and checks every page it reaches, so one run lists every problem.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from booking.db import db
from booking.services import preregistration
from booking.web.queue_state import get_queue
from tests.e2e.audit import Audit
from tests.e2e.conftest import (
    AGENT,
    MANAGER,
    ZIP,
    LiveServer,
)
from tests.e2e.flows import choose_first_time, find_clinic, person, sign_in, submit
from tests.preregistration.support import signup


def test_axe_reports_a_known_problem(new_page: Any):
    # The checks can fail: a page with an unlabelled field and tiny controls is caught, and so
    # are a cell too narrow for its word (split mid-word, as the staff tables were) and a box
    # narrower than its content, at each width.
    page = new_page()
    page.set_content(
        "<html><head><title>x</title></head><body><h1>x</h1><h3>y</h3><main>"
        '<input type="text"><button style="height:20px">go</button>'
        '<table><tr><td style="width:2rem;overflow-wrap:anywhere">Vaccine</td></tr></table>'
        '<div style="width:100px"><div style="width:300px">wide</div></div>'
        "</main></body></html>"
    )
    audit = Audit(page, "en-US")
    audit("broken")
    found = "\n".join(audit.problems)
    assert "label (critical)" in found
    assert "headings out of order: h1 then h3" in found
    assert "target smaller than 44 px" in found
    assert "no skip link" in found
    assert 'broken (phone): word split across lines in <td>: "Vaccine"' in found
    assert 'broken (desktop): word split across lines in <td>: "Vaccine"' in found
    assert "content wider than its box: <div" in found


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_resident_pages(new_page: Any, live_server: LiveServer, locale: str):
    page = new_page(locale=locale)
    audit = Audit(page, locale, reflow=True)
    shots = locale == "en-US"
    page.goto("/")
    audit("home", screenshot=shots)
    submit(page, "zip")
    audit("home-errors")
    # Keyboard users reach the skip link first, and it is visible when focused.
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    find_clinic(page, live_server)
    audit("clinic", screenshot=shots)
    page.go_back()
    page.go_back()
    audit("search-results", screenshot=shots)
    page.go_forward()
    page.go_forward()
    choose_first_time(page)
    audit("book", screenshot=shots)
    submit(page, "first_name")
    audit("book-errors")
    invalid = page.locator("#first_name")
    assert invalid.get_attribute("aria-invalid") == "true"
    assert "first_name-error" in (invalid.get_attribute("aria-describedby") or "")
    for name, value in person().items():
        page.fill(f"#{name}", value)
    page.check("#resident")
    page.check("#eligibility_attested")
    submit(page, "first_name")
    page.wait_for_url("**/confirmation**")
    audit("confirmation", screenshot=shots)
    page.locator(".manage-link a").click()
    audit("manage")
    page.locator('main a[href$="/manage/reschedule"]').click()
    audit("reschedule")
    page.go_back()
    page.locator('main a[href$="/manage/cancel"]').click()
    audit("cancel")
    page.goto("/lookup")
    audit("lookup")
    submit(page, "code")
    audit("lookup-errors")
    page.goto("/no-such-page")
    audit("not-found")
    audit.assert_clean()


def test_waiting_room_pages(new_page: Any, live_server: LiveServer):
    live_server.reset_queue()
    live_server.queue_settings(mode="always", max_active=1)
    try:
        with live_server.app.app_context():
            occupant = get_queue().join(binding="someone-else", now=time.time())
        page = new_page()
        audit = Audit(page, "en-US", reflow=True)
        page.goto("/waiting-room")
        audit("waiting-room-join", screenshot=True)
        page.fill("#date_of_birth", "tomorrow")
        submit(page, "date_of_birth")
        audit("waiting-room-join-errors")
        page.fill("#date_of_birth", "04/27/1950")
        page.check("#resident")
        submit(page, "date_of_birth")
        page.wait_for_url("**/waiting-room/status")
        audit("waiting-room-status", screenshot=True)
        with live_server.app.app_context():
            get_queue().revoke(occupant.ticket)
        page.reload()
        page.locator("#waiting-room a.button").wait_for()
        audit("waiting-room-admitted")
        page.goto("/waiting-room/standby")
        audit("waiting-room-standby")
    finally:
        live_server.reset_queue()
    audit.assert_clean()


def test_agent_pages(new_page: Any, live_server: LiveServer):
    page = new_page()
    audit = Audit(page, "en-US")
    page.goto("/staff/sign-in")
    audit("staff-sign-in")
    sign_in(page, AGENT)
    audit("staff-home")
    page.goto("/agent/")
    audit("agent-search")
    page.fill("#zip", ZIP)
    submit(page, "zip")
    audit("agent-results", screenshot=True)
    page.locator(".results li.result a[href*='/agent/clinics/']").first.click()
    audit("agent-clinic")
    page.locator("ul.slots .slot-button").first.click()
    page.wait_for_url("**/agent/holds/**")
    audit("agent-details")
    submit(page, "first_name")
    audit("agent-details-errors")
    for name, value in person().items():
        page.fill(f"#{name}", value)
    page.check("#resident")
    submit(page, "first_name")
    page.wait_for_url("**/booked")
    audit("agent-booked", screenshot=True)
    page.locator("main .actions a").first.click()
    audit("agent-reservation")
    page.goto("/agent/lookup")
    audit("agent-lookup")
    audit.assert_clean()


def test_clinic_pages(new_page: Any, live_server: LiveServer):
    page = new_page()
    audit = Audit(page, "en-US")
    sign_in(page, MANAGER)
    page.goto("/clinic/")
    audit("clinic-console")
    page.goto(f"/clinic/{live_server.clinic_id}/roster")
    audit("clinic-roster", screenshot=True)
    page.goto(f"/clinic/{live_server.clinic_id}/schedule")
    audit("clinic-schedule")
    page.goto(f"/clinic/{live_server.clinic_id}/api-keys")
    audit("clinic-api-keys")
    page.fill("#name", "Front desk scheduler")
    page.get_by_role("button", name="Make a key").click()
    audit("clinic-api-key-made", screenshot=True)
    page.goto(f"/clinic/{live_server.clinic_id}/standby")
    audit("clinic-standby")
    page.fill("#places", "0")
    page.get_by_role("button", name="Send the offers").click()
    audit("clinic-standby-errors", screenshot=True)
    # Three people nearby asked for short-notice offers: the offers go out, and the page then
    # shows this clinic's invitation funnel.
    with live_server.app.app_context():
        db.transaction(
            lambda session: [
                preregistration.register(
                    session, signup(90 + i), now=datetime.now(UTC), channel="online"
                )
                for i in range(3)
            ]
        )
    page.fill("#places", "2")
    page.get_by_role("button", name="Send the offers").click()
    page.locator("#standby-done").wait_for()
    page.locator("#clinic-funnel").wait_for()
    audit("clinic-standby-sent", screenshot=True)
    audit.assert_clean()
