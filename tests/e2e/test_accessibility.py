"""axe-core on every resident, waiting-room, agent and clinic page, reflow at 320 CSS pixels,
and screenshots of the main pages at phone and desktop widths (saved to docs/screenshots/).

Each test walks one journey and checks every page it reaches, so one run lists every problem.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from booking.web.queue_state import get_queue
from tests.e2e.conftest import (
    AGENT,
    DESKTOP,
    MANAGER,
    PHONE,
    SCREENSHOTS,
    ZIP,
    LiveServer,
    expected_lang,
)
from tests.e2e.flows import choose_first_time, find_clinic, person, sign_in, submit

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")
NARROW = {"width": 320, "height": 800}  # 1280 px at 400% zoom, 640 px at 200%
# Controls that must offer a 44 x 44 px target (inline links in running text are exempt; a
# checkbox or radio button counts with its label, which is part of its target).
TARGETS = (
    "header a, header button, main button, main select, main textarea, .days a, .actions a, "
    "main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    ".checkbox label, .radio label"
)
SMALL_TARGETS = """sel => [...document.querySelectorAll(sel)]
  .filter(el => el.offsetParent !== null)
  .filter(el => { const r = el.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
  .map(el => el.outerHTML.slice(0, 80))"""
HEADING_JUMPS = """() => {
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  const bad = [];
  if (levels[0] !== 1) bad.push('first heading is h' + levels[0]);
  for (let i = 1; i < levels.length; i++)
    if (levels[i] > levels[i - 1] + 1) bad.push('h' + levels[i - 1] + ' then h' + levels[i]);
  return bad;
}"""
FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
    || s.boxShadow !== 'none';
  return shown ? '' : el.outerHTML.slice(0, 80);
}"""


class Audit:
    """Run axe on each page visited; remember serious problems instead of stopping at one."""

    def __init__(self, page: Any, locale: str, reflow: bool = False) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.page = page
        self.locale = locale
        self.reflow = reflow
        self.problems: list[str] = []
        self.checked: list[str] = []

    def __call__(self, name: str, screenshot: bool = False) -> None:
        """Check the current page (and save its screenshots when asked)."""
        page = self.page
        page.wait_for_load_state("load")
        self.checked.append(name)
        if screenshot:  # first, before the checks below move the focus around
            self._screenshots(name)
        if os.environ.get("FAIRSLOT_REVIEW_SCREENSHOTS"):
            # For reviewing a change: every page, in every language, into that directory.
            folder = Path(os.environ["FAIRSLOT_REVIEW_SCREENSHOTS"])
            self._screenshots(f"{name}-{self.locale}", folder)
        if page.locator("html").get_attribute("lang") != expected_lang(self.locale):
            self.problems.append(f"{name}: <html lang> is not {expected_lang(self.locale)}")
        if page.locator("h1").count() != 1:
            self.problems.append(f"{name}: expected exactly one h1")
        if page.locator("a.skip-link[href='#main']").count() != 1:
            self.problems.append(f"{name}: no skip link")
        results = self.axe.run(page, options=AXE_OPTIONS)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.problems.append(
                    f"{name}: {violation['id']} ({violation['impact']}) {violation['help']} "
                    f"at {targets}"
                )
        for jump in page.evaluate(HEADING_JUMPS):
            self.problems.append(f"{name}: headings out of order: {jump}")
        for small in page.evaluate(SMALL_TARGETS, TARGETS):
            self.problems.append(f"{name}: target smaller than 44 px: {small}")
        self._check_focus(name)
        if self.reflow:
            self._check_reflow(name)

    def _check_focus(self, name: str, presses: int = 8) -> None:
        """Tab through the first controls: each must show where the focus is."""
        for _ in range(presses):
            self.page.keyboard.press("Tab")
            hidden = self.page.evaluate(FOCUS_SHOWN)
            if hidden:
                self.problems.append(f"{name}: no visible focus on {hidden}")

    def _check_reflow(self, name: str) -> None:
        size = self.page.viewport_size
        self.page.set_viewport_size(NARROW)
        fits = self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        if not fits:
            self.problems.append(f"{name}: scrolls sideways at 320 CSS px")
        self.page.set_viewport_size(size)

    def _screenshots(self, name: str, folder: Path = SCREENSHOTS) -> None:
        size = self.page.viewport_size
        folder.mkdir(parents=True, exist_ok=True)
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(viewport)
            self.page.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(size)

    def assert_clean(self) -> None:
        """Fail with every problem found, page by page."""
        assert self.checked
        assert not self.problems, "\n".join(self.problems)


def test_axe_reports_a_known_problem(new_page: Any):
    # The checks can fail: a page with an unlabelled field and tiny controls is caught.
    page = new_page()
    page.set_content(
        "<html><head><title>x</title></head><body><h1>x</h1><h3>y</h3><main>"
        '<input type="text"><button style="height:20px">go</button></main></body></html>'
    )
    audit = Audit(page, "en-US")
    audit("broken")
    found = "\n".join(audit.problems)
    assert "label (critical)" in found
    assert "headings out of order: h1 then h3" in found
    assert "target smaller than 44 px" in found
    assert "no skip link" in found


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
    audit.assert_clean()
