"""The pages work under the Content-Security-Policy, scripts on and off.

The ``new_page`` fixture fails a test on any policy violation reported in the console; this
test makes sure the watch itself works (a page that breaks the policy is caught) and walks the
public pages once each way.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ZIP, LiveServer, is_policy_violation

PAGES = ["/", f"/search?zip={ZIP}", "/lookup", "/staff/sign-in", "/waiting-room", "/nowhere"]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_public_pages_under_the_policy(
    new_page: Any, live_server: LiveServer, javascript: bool
) -> None:
    page = new_page(javascript=javascript)
    for url in [*PAGES, f"/clinics/{live_server.clinic_id}"]:
        response = page.goto(url)
        assert response is not None and response.status < 500, url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert page.locator("link[rel=stylesheet]").count() == 1


def test_a_violation_is_reported_in_the_console(browser: Any, live_server: LiveServer) -> None:
    # Its own context, outside the fixture's watch: this page breaks the policy on purpose.
    context = browser.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        page.goto("/")
        with page.expect_console_message(lambda m: is_policy_violation(m.text)) as reported:
            # What an inline style would do: refused by the policy, and reported.
            page.evaluate(
                "() => { const s = document.createElement('style');"
                " s.textContent = 'body { color: red }'; document.head.appendChild(s); }"
            )
        assert "style-src" in reported.value.text
    finally:
        context.close()
