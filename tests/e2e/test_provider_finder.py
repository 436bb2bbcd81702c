"""Another provider's appointment in a resident's and an agent's search (Chromium): a chain's
feed served by a local server, registered and fetched by the real job, shown marked as theirs
with its deep link (plus booking-referral), audited at phone and desktop widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from booking.db import db
from booking.jobs.providers import fetch_provider_feed
from booking.services import provider_feeds
from tests.e2e.audit import Audit
from tests.e2e.conftest import AGENT, PHONE, ZIP, LiveServer, translated
from tests.e2e.flows import sign_in, submit
from tests.opendata.feed_server import REGISTRY, FeedServer, pharmacy_feed, serve

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>' + "W" * 120


@pytest.fixture
def chain(live_server: LiveServer) -> Iterator[int]:
    """A chain's feed on 127.0.0.1, registered and fetched once; stopped afterwards, so the
    other browser tests' searches are as they were."""
    server = FeedServer()
    feed = pharmacy_feed(server, datetime.now(UTC))
    # Its second store is hostile: markup and one endless word in its name, an http link.
    feed["locations"][1]["name"] = HOSTILE
    feed["slots"][-1]["extension"] = [
        {"url": f"{REGISTRY}/StructureDefinition/booking-deep-link", "valueUrl": "http://x.test/"}
    ]
    serve(server, feed)
    app = live_server.app
    with app.app_context():
        feed_id = db.transaction(
            lambda s: (
                provider_feeds.register_feed(
                    s,
                    {
                        "name": "Example Pharmacy",
                        "manifest_url": server.url("/chain/$bulk-publish"),
                    },
                    now=datetime.now(UTC),
                ).id
            )
        )
        assert fetch_provider_feed(feed_id) == "accepted"
    try:
        yield feed_id
    finally:
        with app.app_context():
            db.transaction(lambda s: provider_feeds.set_feed_active(s, feed_id, False))
        server.close()


def check_listing(page: Any) -> None:
    """The chain's store is in the results, marked, with a deep link carrying a referral."""
    store = page.locator(".result--provider", has_text="Example Pharmacy #1")
    assert store.count() == 1
    assert store.locator(".provider-tag").inner_text().endswith(": Example Pharmacy")
    assert store.locator(".freshness").is_visible()
    link = store.locator("a.provider-book").first.get_attribute("href")
    query = dict(parse_qsl(urlsplit(link).query))
    assert link.startswith("https://pharmacy.example.com/book?slot=2&")
    assert query["source"] == "fairslot" and query["booking-referral"]
    hostile = page.locator(".result--provider", has=page.get_by_text(HOSTILE, exact=True))
    assert hostile.count() == 1 and hostile.locator("a.provider-book").count() == 0
    assert page.evaluate("window.pwned") is None


def search(page: Any) -> None:
    """From the home page: search the ZIP code."""
    page.goto("/")
    page.fill("#zip", ZIP)
    submit(page, "zip")
    page.wait_for_url("**/search?**")


def test_a_resident_sees_another_providers_appointment(
    new_page: Any, live_server: LiveServer, chain: int
):
    page = new_page(viewport=PHONE)
    audit = Audit(page, "en-US", reflow=True)
    search(page)
    check_listing(page)
    audit("search-with-providers", screenshot=True)
    audit.assert_clean()


def test_without_javascript_in_spanish(new_page: Any, live_server: LiveServer, chain: int):
    page = new_page(locale="es-ES", javascript=False)
    search(page)
    check_listing(page)
    tag = translated("es-ES", "Another provider: %(provider)s") % {"provider": "Example Pharmacy"}
    assert tag in page.locator(".provider-tag").all_inner_texts()


def test_an_agent_sees_another_providers_appointment(
    new_page: Any, live_server: LiveServer, chain: int
):
    page = new_page()
    audit = Audit(page, "en-US")
    sign_in(page, AGENT)
    page.goto("/agent/")
    page.fill("#zip", ZIP)
    submit(page, "zip")
    page.wait_for_url("**/agent/?**")
    check_listing(page)
    audit("agent-search-with-providers", screenshot=True)
    audit.assert_clean()
