"""A resident finds, holds and books a slot; cancels; waits in line and is let in (Chromium)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from booking.web.queue_state import get_queue
from tests.e2e.conftest import LiveServer, expected_lang, translated
from tests.e2e.flows import (
    book_as_resident,
    choose_first_time,
    fill_details_and_book,
    find_clinic,
    heading,
    html_lang,
    reservation_locale,
    reservation_status,
    submit,
)

LOCALES = ["en-US", "es-ES"]


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_finds_holds_and_books(new_page: Any, live_server: LiveServer, locale: str):
    page = new_page(locale=locale)
    find_clinic(page, live_server)
    assert html_lang(page) == expected_lang(locale)
    choose_first_time(page)
    # The hold page tells screen-reader users how long is left, politely.
    announcer = page.locator("#hold-announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    assert announcer.get_attribute("role") == "status"
    page.locator("#hold-announcer:not(:empty)").wait_for(state="attached")
    code = fill_details_and_book(page)
    assert html_lang(page) == expected_lang(locale)
    assert heading(page) == translated(locale, "You are booked")
    assert reservation_status(live_server, code) == "confirmed"
    # Confirmations and reminders go out in the language the resident booked in.
    assert reservation_locale(live_server, code) == expected_lang(locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_books_without_javascript(new_page: Any, live_server: LiveServer, locale: str):
    page = new_page(locale=locale, javascript=False)
    find_clinic(page, live_server)
    choose_first_time(page)
    # No script ran: the countdown it would fill is empty; the page states the hold's end.
    assert page.locator("#hold-timer .countdown").inner_text() == ""
    code = fill_details_and_book(page)
    assert html_lang(page) == expected_lang(locale)
    assert heading(page) == translated(locale, "You are booked")
    assert reservation_status(live_server, code) == "confirmed"


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_cancels(new_page: Any, live_server: LiveServer, locale: str):
    page = new_page(locale=locale)
    code = book_as_resident(page, live_server)
    page.locator(".manage-link a").click()
    page.locator('main a[href$="/manage/cancel"]').click()
    # The demo clinic's first time is dose 1 of a course: the page asks about dose 2 as well.
    if page.locator("#dose_two-cancel").count():
        page.locator("#dose_two-cancel").check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**cancelled=1**")
    assert page.get_by_role("status").count() == 1
    assert html_lang(page) == expected_lang(locale)
    assert heading(page) == translated(locale, "Your appointment")
    assert reservation_status(live_server, code) == "cancelled"


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_waits_in_line_and_is_admitted(
    new_page: Any, live_server: LiveServer, locale: str
):
    # The line is on and full: one admitted visitor takes the only place.
    live_server.reset_queue()
    live_server.queue_settings(mode="always", max_active=1)
    try:
        with live_server.app.app_context():
            occupant = get_queue().join(binding="someone-else", now=time.time())
        assert occupant.state == "admitted"
        page = new_page(locale=locale)
        find_clinic(page, live_server)
        choose_first_time(page)
        page.wait_for_url("**/waiting-room**")
        assert html_lang(page) == expected_lang(locale)
        page.select_option("#service", "covid19")
        page.fill("#date_of_birth", "04/27/1950")
        page.check("#resident")
        submit(page, "date_of_birth")
        page.wait_for_url("**/waiting-room/status")
        assert page.locator('[data-field="position"]').inner_text() == "1"
        assert heading(page) == translated(locale, "You are in line")
        announcer = page.locator("#waiting-announcer")
        assert announcer.get_attribute("aria-live") == "polite"
        # The script's first poll tells screen-reader users their place.
        page.locator("#waiting-announcer:not(:empty)").wait_for(state="attached")
        # The occupant leaves; the page, polling on its own, lets this resident in.
        with live_server.app.app_context():
            assert get_queue().revoke(occupant.ticket)
        page.locator("#waiting-room a.button").wait_for(timeout=60_000)
        page.locator("#waiting-room a.button").click()
        choose_first_time(page)
        code = fill_details_and_book(page)
        assert reservation_status(live_server, code) == "confirmed"
    finally:
        live_server.reset_queue()


def test_language_switcher_changes_and_remembers_the_language(
    new_page: Any, live_server: LiveServer
):
    # An English browser; the resident picks Spanish from the switcher on the page.
    page = new_page(locale="en-US")
    page.goto("/")
    assert html_lang(page) == "en"
    page.locator('nav.language-switcher a[hreflang="es"]').click()
    page.wait_for_load_state()
    assert html_lang(page) == "es"
    assert heading(page) == translated("es-ES", "Find a vaccination appointment")
    assert (
        page.locator('nav.language-switcher a[aria-current="true"]').get_attribute("lang") == "es"
    )
    # The choice is remembered on the next page, whatever the browser prefers.
    page.goto("/lookup")
    assert html_lang(page) == "es"
