"""Preregistration in a real browser: sign up, the status page, change, withdraw (EN and ES,
with and without JavaScript), and a caller preregistered by a 2-1-1 agent; every page audited."""

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


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_invited_resident_books_and_a_forwarded_link_is_refused(
    new_page: Any, live_server: LiveServer, locale: str
):
    from tests.e2e.test_admin_pages import admin_sign_in

    page = new_page(locale=locale)
    audit = Audit(page, locale, reflow=True)
    shots = locale == "en-US"
    page.goto("/preregister")
    fill_signup(page)
    submit(page, "first_name")
    page.wait_for_url("**/preregistration?new=1")
    # A state admin releases places at the demo clinic and runs a round.
    admin = new_page()
    admin_audit = Audit(admin, "en-US")
    admin_sign_in(admin, live_server)
    admin.goto("/admin/invitations")
    admin.select_option("#clinic_id", str(live_server.clinic_id))
    admin.fill("#day", live_server.bookable_day().isoformat())
    admin.fill("#places", "40")
    submit(admin, "places")
    admin.wait_for_load_state("load")
    submit(admin, "over_invitation")
    admin.wait_for_url("**/admin/invitations")
    admin_audit("admin-invitations", screenshot=shots)
    admin_audit.assert_clean()
    page.goto("/preregistration")
    audit("preregistration-invited", screenshot=shots)
    link = page.locator("main a.button[href*='/invitation/']").get_attribute("href")
    # Forwarded to someone else: their date of birth books nothing.
    other = new_page(locale=locale)
    other.goto(link)
    other.fill("#date_of_birth", "01/01/1990")
    submit(other, "date_of_birth")
    assert (
        translated(locale, "This invitation is for someone else. Each person needs their own.")
        in other.content()
    )
    page.goto(link)
    audit("invitation", screenshot=shots)
    submit(page, "date_of_birth")  # no date of birth given
    audit("invitation-errors", screenshot=shots)
    page.fill("#date_of_birth", page.born)
    submit(page, "date_of_birth")
    page.wait_for_url("**/manage")
    audit("invitation-booked")
    page.goto(link)  # the link again: spent
    assert translated(locale, "This invitation has already been used to book.") in page.content()
    audit.assert_clean()
