"""Real-browser fixtures: one live FairSlot server and one headless Chromium per test session.

The server is the real app in a background thread (werkzeug, threaded) on its own SQLite file
and the embedded fakeredis: the savepoint ``app`` fixture cannot be shared across threads. It is
seeded with the demo data at the real current time, so every slot a test picks is in the future,
and it serves the demo outbox page, where a test reads the messages a resident was sent.
Playwright never downloads a browser: it drives the system Chromium. Without Chromium the tests
skip on a workstation, but fail in CI (the CI variable is set), so they can never silently vanish.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.support import Translations
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from booking import create_app
from booking.db import db
from booking.demo.accounts import seed_accounts
from booking.demo.seed import seed_demo
from booking.i18n import LANGUAGES, TRANSLATIONS
from booking.migrate import upgrade
from booking.models import Clinic, Slot
from booking.web.queue_state import get_queue

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's own connections are refused on a closed
# network and slow every launch down.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Resident searches start here: Fenway Park is in 02215 and offers every vaccine.
ZIP = "02215"
CLINIC_KEY = "fenway-park"
AGENT = ("agent@fairslot.example", "demo-agent-password")
MANAGER = ("manager@fenway.example", "demo-manager-password")


def expected_lang(locale: str) -> str:
    """The <html lang> a browser asking for ``locale`` gets: its language if we offer it."""
    language = locale.split("-")[0]
    return language if language in LANGUAGES else "en"


def translated(locale: str, msgid: str) -> str:
    """What a reader asking for ``locale`` should see for ``msgid``: the shipped catalog's text."""
    language = expected_lang(locale)
    if language == "en":
        return msgid
    text = Translations.load(str(TRANSLATIONS), [language]).gettext(msgid)
    # A Spanish page showing the English text would be a missing translation, not a pass.
    assert text != msgid, f"no {language} translation for {msgid!r}"
    return text


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test (``-m "not e2e"`` leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@dataclass
class LiveServer:
    """The running app: its base URL, the Flask app (for queue and data set-up) and its data."""

    url: str
    app: Flask
    clinic_id: int

    def bookable_day(self, clinic_id: int | None = None) -> date:
        """The first local day, at least an hour from now, with a free slot at the clinic."""
        clinic_id = clinic_id or self.clinic_id
        with self.app.app_context():
            soon = datetime.now(UTC) + timedelta(hours=1)
            slot = db.session.scalars(
                select(Slot)
                .where(
                    Slot.clinic_id == clinic_id,
                    Slot.starts_at > soon,
                    Slot.is_open.is_(True),
                    Slot.booked + Slot.held < Slot.capacity,
                )
                .order_by(Slot.starts_at)
                .limit(1)
            ).one()
            return slot.starts_at.astimezone(ZoneInfo("America/New_York")).date()

    def queue_settings(self, **changes: Any) -> None:
        """Change the live waiting-room settings, as a state admin would."""
        with self.app.app_context():
            get_queue().update_settings(**changes)

    def reset_queue(self) -> None:
        """Back to the configured settings (the queue off), with nobody in line or let in."""
        with self.app.app_context():
            queue = get_queue()
            for key in list(queue.redis.scan_iter(f"{queue.prefix}:*")):
                queue.redis.delete(key)
            queue.reset_settings()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app, migrated and seeded, served from a background thread on a free port."""
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'fairslot-e2e.sqlite3'}"
    upgrade(url)
    config = {
        "FAIRSLOT_ENV": "test",
        "DATABASE_URL": url,
        "REDIS_URL": None,  # the embedded fakeredis, in this process: the tests share it
        "INSTANCE_PATH": str(folder / "instance"),
        "QUEUE_MODE": "off",  # the waiting-room tests switch it on live
        "RATELIMIT_ENABLED": False,  # every browser comes from 127.0.0.1
        "DEMO_OUTBOX": True,  # residents read what was "sent" on /demo/outbox, as in the demo
        # Jobs run as in the demo: a worker thread in the server's process (the admin's
        # invitation round is a job, and its messages are sent by one).
        "INPROCESS_WORKER": True,
    }
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = base
    with app.app_context():
        moment = datetime.now(UTC)
        db.transaction(
            lambda s: seed_demo(s, now=moment, secret_key=app.config["SECRET_KEY"], days=4)
        )
        db.transaction(lambda s: seed_accounts(s, now=moment))
        clinic_id = db.session.scalar(select(Clinic.id).where(Clinic.key == CLINIC_KEY))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(base, app, clinic_id)
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless system Chromium for the whole session."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI: {CHROMIUM} is missing; the browser tests must run in CI")
        pytest.skip(f"{CHROMIUM} is not installed (set CI to make this a failure)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


def is_policy_violation(text: str) -> bool:
    """Whether a console message is Chromium reporting a Content-Security-Policy refusal."""
    return "Content Security Policy" in text or "Content-Security-Policy" in text


@pytest.fixture
def new_page(browser: Any, live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (own cookies): ``new_page(locale="es-ES")``.

    Every page of every context is watched: a Content-Security-Policy violation reported in the
    console fails the test that caused it (the pages must work under the policy as they are).
    """
    contexts: list[Any] = []
    violations: list[str] = []

    def open_page(
        locale: str = "en-US", viewport: dict[str, int] | None = None, javascript: bool = True
    ) -> Any:
        context = browser.new_context(
            base_url=live_server.url,
            locale=locale,
            viewport=viewport or DESKTOP,
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        context.on(
            "console",
            lambda message: (
                violations.append(f"{message.page.url}: {message.text}")
                if is_policy_violation(message.text)
                else None
            ),
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)
