"""Preregistration in a real browser: sign up, the status page, change, withdraw (EN and ES,
with and without JavaScript), and a caller preregistered by a 2-1-1 agent; every page audited.
The invitation that follows is test_invitation.py's."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.e2e.audit import Audit
from tests.e2e.conftest import AGENT, LiveServer, translated
from tests.e2e.flows import sign_in, submit

_PEOPLE = itertools.count(1)


def fill_signup(page: Any, *, callback: bool = False) -> str:
    """Fill the preregistration form for a new person; return their first name (and keep
    their date of birth on the page object, as ``page.born``)."""
    n = next(_PEOPLE)
    first = f"Prea{'abcdefghij'[n % 10]}"
    page.fill("#first_name", first)
    page.fill("#last_name", "Waiting")
    page.born = f"05/{n:02d}/1948"
    page.fill("#date_of_birth", page.born)
    page.fill("#zip", "02115")
    if callback:
        page.fill("#callback_phone", f"617-555-{n + 7000:04d}")
    else:
        page.fill("#phone", f"617-555-{n + 6000:04d}")
    page.check("#resident")
    page.check("#consent")
    return first


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_preregister_see_change_withdraw(new_page: Any, live_server: LiveServer, locale: str):
    page = new_page(locale=locale)
    audit = Audit(page, locale, reflow=True)
    shots = locale == "en-US"
    page.goto("/preregister")
    audit("preregister", screenshot=shots)
    submit(page, "first_name")
    audit("preregister-errors", screenshot=shots)
    fill_signup(page)
    submit(page, "first_name")
    page.wait_for_url("**/preregistration?new=1")
    assert translated(locale, "Waiting for an invitation") in page.content()
    audit("preregistration-status", screenshot=shots)
    link = page.locator(".private-link").inner_text().strip()
    page.goto("/preregistration/change")
    audit("preregistration-change", screenshot=shots)
    page.select_option("#travel_miles", "25")
    submit(page, "zip")
    page.wait_for_url("**/preregistration?changed=1")
    page.goto("/preregistration/withdraw")
    audit("preregistration-withdraw", screenshot=shots)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/preregistration")
    assert translated(locale, "Withdrawn") in page.content()
    # The private link opens it from any browser.
    other = new_page(locale=locale)
    other.goto(link)
    assert translated(locale, "Withdrawn") in other.content()
    audit.assert_clean()


def test_preregister_without_javascript(new_page: Any, live_server: LiveServer):
    page = new_page(locale="es-ES", javascript=False)
    page.goto("/preregister")
    fill_signup(page)
    submit(page, "first_name")
    page.wait_for_url("**/preregistration?new=1")
    assert translated("es-ES", "Waiting for an invitation") in page.content()


def test_an_agent_preregisters_a_caller(new_page: Any, live_server: LiveServer):
    page = new_page()
    audit = Audit(page, "en-US")
    sign_in(page, AGENT)
    page.goto("/agent/preregister")
    audit("agent-preregister", screenshot=True)
    first = fill_signup(page, callback=True)
    submit(page, "first_name")
    page.wait_for_url("**/agent/preregistrations/*")
    assert first in page.content() and "Call back" in page.content()
    audit("agent-preregistration", screenshot=True)
    audit.assert_clean()
