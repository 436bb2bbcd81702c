"""A 2-1-1 agent signs in and books a time for a caller (Chromium)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AGENT, ZIP, LiveServer, expected_lang, translated
from tests.e2e.flows import (
    heading,
    html_lang,
    person,
    reservation_locale,
    reservation_status,
    sign_in,
    submit,
)


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_agent_books_for_a_caller(new_page: Any, live_server: LiveServer, locale: str):
    page = new_page(locale=locale)
    sign_in(page, AGENT)
    page.goto("/agent/")
    page.fill("#zip", ZIP)
    submit(page, "zip")
    page.locator("ul.slots .slot-button").first.click()
    page.wait_for_url("**/agent/holds/**")
    for name, value in person().items():
        page.fill(f"#{name}", value)
    page.check("#resident")
    submit(page, "first_name")
    page.wait_for_url("**/booked")
    code = page.locator("main .code").inner_text().strip()
    assert html_lang(page) == expected_lang(locale)
    assert heading(page) == translated(locale, "Booked: read the code to the caller")
    assert reservation_status(live_server, code) == "confirmed"
    # The caller's language defaults to the agent's page language; messages go out in it.
    assert reservation_locale(live_server, code) == expected_lang(locale)
