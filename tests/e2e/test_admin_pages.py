"""The state admin's console in a real browser: axe, targets, focus and reflow on every admin page;
at phone and desktop widths nothing scrolls sideways and no word in a table, list of figures or
button is broken across lines; screenshots of the main ones to docs/screenshots/admin-*.png."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select, update

from admission import health
from booking.db import db
from booking.models import Clinic, OutboxMessage, Slot, StaffUser
from booking.services import holds, reservations
from booking.web.queue_state import get_queue
from tests.e2e.audit import Audit
from tests.e2e.conftest import DESKTOP, PHONE, LiveServer
from tests.e2e.flows import submit
from tests.support import ANSWERS, person

ADMIN = ("admin@fairslot.example", "demo-admin-password")

# Words (split at spaces and hyphens) whose pieces sit on more than one line; on a phone, ids
# and addresses longer than ``longest`` may wrap (they would not fit otherwise).
BROKEN_WORDS = r"""([sel, longest]) => {
  const broken = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.offsetParent === null) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/[^\s\-\u2010\u2013]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
          .map(r => Math.round(r.bottom)));
        if (lines.size > 1 && m[0].length <= longest) broken.push(m[0]);
      }
    }
  }
  return broken.slice(0, 10);
}"""
CELLS = "main th, main td, main button, main dt, main dd, main summary, main .admin-nav a"
SIDEWAYS = "document.documentElement.scrollWidth - window.innerWidth"


def admin_sign_in(page: Any, server: LiveServer, audit: Audit | None = None) -> None:
    """Password, then the authenticator code (enrolling on the first sign-in)."""
    page.goto("/staff/sign-in")
    page.fill("#email", ADMIN[0])
    page.fill("#password", ADMIN[1])
    submit(page, "password")
    page.wait_for_url("**/staff/two-factor")
    with server.app.app_context():
        secret = db.session.scalar(select(StaffUser.totp_secret).where(StaffUser.email == ADMIN[0]))
        # A code is accepted once: these tests sign the same admin in several times within one
        # 30-second step, so the step used last is forgotten first (a fresh authenticator code).
        db.session.execute(
            update(StaffUser).where(StaffUser.email == ADMIN[0]).values(totp_last_step=None)
        )
        db.session.commit()
    if secret is None:
        key = page.locator("#totp-key")
        secret = key.inner_text().replace(" ", "")
        assert page.locator("svg.qr-code").count() == 1
        if audit is not None:
            audit("admin-enrol", screenshot=True)
            layout(page, audit, "admin-enrol")
    page.fill("#code", pyotp.TOTP(secret).now())
    submit(page, "code")
    page.wait_for_url("**/staff/")


def layout(page: Any, audit: Audit, name: str) -> None:
    """At 390 and 1280 px: nothing scrolls sideways, and no word is broken across lines."""
    # (At 390 px only words of up to 20 characters count: a 32-character id has to wrap.)
    size = page.viewport_size
    for label, viewport, longest in (("phone", PHONE, 20), ("desktop", DESKTOP, 1000)):
        page.set_viewport_size(viewport)
        sideways = page.evaluate(SIDEWAYS)
        if sideways > 0:
            audit.problems.append(f"{name} ({label}): {sideways} px wider than the screen")
        for word in page.evaluate(BROKEN_WORDS, [CELLS, longest]):
            audit.problems.append(f"{name} ({label}): word broken across lines: {word!r}")
    page.set_viewport_size(size)


@pytest.fixture(scope="module")
def busy(live_server: LiveServer) -> Iterator[None]:
    """Bookings over the next days, a failed message and a line of people, for the figures."""
    app = live_server.app
    with app.app_context():
        s = db.session
        soon = datetime.now(UTC) + timedelta(minutes=30)
        slots = s.scalars(
            select(Slot)
            .join(Clinic, Clinic.id == Slot.clinic_id)
            .where(Slot.starts_at > soon, Slot.is_open.is_(True), Slot.service == "covid19")
            .order_by(Slot.starts_at)
            .limit(40)
        ).all()
        for n, slot in enumerate(slots):
            hold = holds.place_hold(s, slot.id, now=datetime.now(UTC), hold_minutes=10)
            reservations.confirm_hold(
                s,
                hold.hold_token,
                person(9000 + n),
                now=datetime.now(UTC),
                secret_key=app.config["SECRET_KEY"],
                answers=ANSWERS,
                admission_ticket=None,
            )
        message = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        if message is not None:
            message.status, message.attempts = "failed", 5
            message.last_error = "550 mailbox unavailable"
            message.updated_at = datetime.now(UTC)
        s.commit()
    live_server.reset_queue()
    live_server.queue_settings(mode="paused")
    with app.app_context():
        queue, start = get_queue(), time.time() - 40 * 60
        for i in range(120):  # a line that grows over forty minutes
            queue.join(binding=f"busy-{i}", now=start + i * 20)
        # The admission controller on, having just seen 2% of booking requests too slow.
        control = queue.control
        assert control is not None
        configured = control.config
        control.config = replace(configured, enabled=True)
        for n in range(200):
            latency = 900 if n % 50 == 0 else 40
            health.record(
                queue.redis,
                queue.prefix,
                ended_at=time.time() - 2,
                latency_ms=latency,
                error=n == 1,
                target_ms=configured.target_ms,
            )
        control.view(queue.settings().admit_per_minute, now=time.time())
    live_server.queue_settings(mode="off")
    yield
    control.config = configured


def test_admin_pages(new_page: Any, live_server: LiveServer, busy: None):
    page = new_page()
    audit = Audit(page, "en-US", reflow=True)
    try:
        admin_sign_in(page, live_server, audit)
        pages = [
            ("/admin/dashboard", "admin-dashboard", True),
            ("/admin/queue", "admin-queue", True),
            ("/admin/messages", "admin-messages", True),
            ("/admin/accounts", "admin-accounts", True),
            ("/admin/clinics", "admin-clinics", True),
            (f"/admin/clinics/{live_server.clinic_id}/edit", "admin-clinic-edit", False),
            (f"/admin/clinics/{live_server.clinic_id}/set-aside", "admin-set-aside", False),
            ("/admin/vaccines", "admin-vaccines", False),
            ("/admin/eligibility", "admin-eligibility", False),
        ]
        for path, name, screenshot in pages:
            page.goto(path)
            audit(name, screenshot=screenshot)
            layout(page, audit, name)
        # A state admin lets a clinic's key act for a chain's other clinics.
        page.goto(f"/clinic/{live_server.clinic_id}/api-keys")
        page.fill("#name", "Chain sync")
        page.get_by_role("button", name="Make a key").click()
        page.locator("details.key-scope summary").first.click()
        audit("clinic-api-keys-admin", screenshot=True)
        layout(page, audit, "clinic-api-keys-admin")
        # A change of mode, made on the page, is in the audit log with what it was before.
        page.goto("/admin/queue")
        page.check("#mode-paused")
        page.fill("#paused_message", "Back at noon: new appointments are being added.")
        submit(page, "paused_message")
        page.wait_for_url("**/admin/queue?saved=1")
        audit("admin-queue-saved")
        page.goto("/admin/audit")
        audit("admin-audit", screenshot=True)
        layout(page, audit, "admin-audit")
        assert page.locator("dl.admin-detail dt", has_text="mode").count() >= 1
        page.goto("/admin/audit?action=staff.&actor=admin")
        audit("admin-audit-filtered")
        assert page.locator("#f-action").input_value() == "staff."
    finally:
        live_server.reset_queue()
    audit.assert_clean()


def test_the_dashboard_refreshes_itself_and_can_be_paused(
    new_page: Any, live_server: LiveServer, busy: None
):
    page = new_page()
    admin_sign_in(page, live_server)
    page.clock.install()
    page.goto("/admin/dashboard")
    page.evaluate("document.querySelector('[data-panel=headline] p').dataset.old = 'yes'")
    with page.expect_response("**/admin/dashboard/live") as answer:
        page.clock.run_for(31_000)
    assert answer.value.ok
    # The panel is the server's fresh one now, not the one the page was loaded with.
    page.wait_for_function("!document.querySelector('[data-panel=headline] [data-old]')")
    assert page.locator('[data-panel="today"] h2').count() == 1
    pause = page.locator(".admin-live-controls button")
    pause.click()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/live" in r.url else None)
    page.clock.run_for(95_000)
    assert requests == []


def test_the_dashboard_works_without_javascript(new_page: Any, live_server: LiveServer):
    page = new_page(javascript=False)
    admin_sign_in(page, live_server)
    page.goto("/admin/dashboard")
    assert page.locator("svg[role=img]").count() >= 3
    assert page.locator(".admin-live-controls").count() == 0
