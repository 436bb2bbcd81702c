"""An invitation round end to end in Chromium (EN and ES, and ES without JavaScript): a resident
preregisters and a 2-1-1 agent preregisters a caller; a state admin releases places and runs a
round; the resident reads the invitation on the demo outbox page, in their language, follows
its link, confirms their date of birth, picks a time and books. The same link forwarded to
someone else books nothing, and once used it is spent. The agent finds the caller invited."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import Clinic, Invitation, Preregistration, Reservation, Slot
from booking.services.invitations import live_invitations
from tests.e2e.audit import Audit
from tests.e2e.conftest import AGENT, DESKTOP, PHONE, SCREENSHOTS, LiveServer, translated
from tests.e2e.flows import sign_in, submit
from tests.e2e.test_admin_pages import admin_sign_in

_PEOPLE = itertools.count(1)
# Clinics near the residents' ZIP (02115), within the form's default travel distance; Fenway
# Park, where the other browser tests book, last.
_NEARBY = ("hynes-convention-center", "reggie-lewis-center", "fenway-park")
# More than one time's places (a clinic's time holds 40 to 50): the invitee has a choice.
_PLACES = "120"


class Unaudited:
    """Stands in for the audit in the run without JavaScript, where axe cannot run."""

    def __call__(self, name: str, screenshot: bool = False) -> None:
        """Nothing to check here: the same pages are audited in the runs with JavaScript."""

    def assert_clean(self) -> None:
        """Nothing was checked, so nothing to report."""


def first_screen(page: Any, name: str) -> None:
    """Screenshots of what a phone and a desktop show first (the outbox page grows with every
    message the session sent: its whole length says nothing more)."""
    size = page.viewport_size
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"))
    page.set_viewport_size(size)


def preregister(page: Any, *, callback: bool = False) -> dict[str, str]:
    """Fill and send the preregistration form (the resident's or the agent's) for a new person."""
    n = next(_PEOPLE)
    who = {
        "first_name": f"Inv{'abcdefghij'[n % 10]}",
        "last_name": f"Round{'klmnopqrst'[n // 10 % 10]}",
        "date_of_birth": f"06/{n:02d}/1947",
        "phone": f"617-555-{n + 8000:04d}",
    }
    for name in ("first_name", "last_name", "date_of_birth"):
        page.fill(f"#{name}", who[name])
    page.fill("#zip", "02115")
    page.fill("#callback_phone" if callback else "#phone", who["phone"])
    page.check("#resident")
    if page.locator("#consent").count():
        page.check("#consent")
    submit(page, "first_name")
    return who


def release_target(server: LiveServer) -> tuple[int, date]:
    """A nearby clinic and day with no invitation out for it (a day whose invitations are
    still out cannot be changed), whose free Covid-19 times all start two hours from now or
    later: a release takes the day's first times, and the invitation ends at the last."""
    moment = datetime.now(UTC)
    soon = moment + timedelta(hours=2)
    with server.app.app_context():
        clinics = db.session.scalars(select(Clinic).where(Clinic.key.in_(_NEARBY))).all()
        for clinic in sorted(clinics, key=lambda c: _NEARBY.index(c.key)):
            starts = db.session.scalars(
                select(Slot.starts_at)
                .where(
                    Slot.clinic_id == clinic.id,
                    Slot.service == "covid19",
                    Slot.starts_at > moment,
                    Slot.is_open.is_(True),
                    Slot.booked + Slot.held + Slot.phone_reserved < Slot.capacity,
                )
                .order_by(Slot.starts_at)
            ).all()
            first: dict[date, datetime] = {}
            for start in starts:
                first.setdefault(start.astimezone(ZoneInfo(clinic.timezone)).date(), start)
            for day, start in first.items():
                if start > soon and not live_invitations(db.session, clinic.id, day):
                    return clinic.id, day
    raise AssertionError("no nearby clinic has a day left to release places on")


def invitation_of(server: LiveServer, who: dict[str, str]) -> Invitation | None:
    """The person's latest invitation, as stored."""
    born = datetime.strptime(who["date_of_birth"], "%m/%d/%Y").date()
    with server.app.app_context():
        found = db.session.scalars(
            select(Invitation)
            .join(Preregistration, Preregistration.id == Invitation.preregistration_id)
            .where(
                Preregistration.first_name == who["first_name"],
                Preregistration.date_of_birth == born,
            )
            .order_by(Invitation.id.desc())
        ).first()
        if found is not None:
            db.session.expunge(found)
        return found


def run_a_round(admin: Any, server: LiveServer, shots: bool) -> None:
    """A state admin, on the invitations page, releases places and draws a round."""
    audit = Audit(admin, "en-US")
    admin_sign_in(admin, server)
    clinic_id, day = release_target(server)
    admin.goto("/admin/invitations")
    admin.select_option("#clinic_id", str(clinic_id))
    admin.fill("#day", day.isoformat())
    admin.fill("#places", _PLACES)
    submit(admin, "places")
    assert admin.locator("main .panel--success").count() == 1, admin.content()
    submit(admin, "over_invitation")
    admin.wait_for_url("**/admin/invitations")
    audit("admin-invitations", screenshot=shots)
    audit.assert_clean()


def outbox_message(page: Any, phone: str) -> Any:
    """On the demo outbox page: the newest message sent to this phone number."""
    digits = re.sub(r"\D", "", phone)
    for article in page.locator("article.outbox-message").all():
        recipient = article.locator("dl dd").first.inner_text()
        if re.sub(r"\D", "", recipient).endswith(digits):
            return article
    return None


@pytest.mark.parametrize(
    ("locale", "javascript"), [("en-US", True), ("es-ES", True), ("es-ES", False)]
)
def test_an_invitation_from_preregistration_to_booking(
    new_page: Any, live_server: LiveServer, locale: str, javascript: bool
):
    shots = locale == "en-US"
    page = new_page(locale=locale, javascript=javascript)
    # axe and the layout checks run in the page's JavaScript: the run with it on audits.
    audit = Audit(page, locale, reflow=True) if javascript else Unaudited()
    page.goto("/preregister")
    resident = preregister(page)
    page.wait_for_url("**/preregistration?new=1")
    assert translated(locale, "Waiting for an invitation") in page.content()

    agent = new_page(locale=locale)
    sign_in(agent, AGENT)
    agent.goto("/agent/preregister")
    caller = preregister(agent, callback=True)
    agent.wait_for_url("**/agent/preregistrations/*")

    run_a_round(new_page(), live_server, shots)

    message = None
    for _ in range(60):  # the round is a job: its worker writes and sends the invitations
        page.goto("/demo/outbox")
        message = outbox_message(page, resident["phone"])
        if message is not None:
            break
        page.wait_for_timeout(500)
    assert message is not None, "no message to the resident on the outbox page"
    page.goto("/preregistration")
    audit("preregistration-invited", screenshot=shots)
    page.goto("/demo/outbox")
    message = outbox_message(page, resident["phone"])
    subject = message.locator("h2").inner_text().strip()
    assert subject == translated(locale, "You are invited to book your vaccination")
    assert resident["first_name"] in message.locator("pre").inner_text()
    # The caller gave only a call-back number: nothing is sent, the agent tells them.
    assert outbox_message(page, caller["phone"]) is None
    audit("outbox-invitation")
    if shots:
        first_screen(page, "outbox-invitation")
    link = message.locator("pre a[href*='/invitation/']")
    assert link.count() == 1
    address = link.get_attribute("href")

    # Forwarded to someone else: their date of birth books nothing.
    other = new_page(locale=locale, javascript=javascript)
    other_audit = Audit(other, locale, reflow=True) if javascript else Unaudited()
    other.goto(address)
    other.fill("#date_of_birth", "01/01/1990")
    submit(other, "date_of_birth")
    refusal = "This invitation is for someone else. Each person needs their own."
    refusal = translated(locale, refusal)
    assert refusal in other.locator("main .error-summary").inner_text()
    other_audit("invitation-refused", screenshot=shots)
    invitation = invitation_of(live_server, resident)
    assert invitation is not None and invitation.status == "sent"
    assert invitation.reservation_id is None

    link.click()  # the resident follows their own link
    page.wait_for_url("**/invitation")
    audit("invitation", screenshot=shots)
    submit(page, "date_of_birth")  # no date of birth given
    assert page.locator("main .error-summary").count() == 1
    audit("invitation-errors", screenshot=shots)
    times = page.locator("main input[name=slot_id]")
    choice = times.nth(min(1, times.count() - 1))  # a time of their choosing, not the first
    chosen_id = int(choice.get_attribute("value"))
    chosen = page.locator(f"label[for='{choice.get_attribute('id')}']").inner_text()
    choice.check()
    page.fill("#date_of_birth", resident["date_of_birth"])
    submit(page, "date_of_birth")
    page.wait_for_url("**/confirmation")
    code = page.locator("main .code").inner_text().strip()
    shown = " ".join(page.locator("main").inner_text().split())
    assert " ".join(chosen.split(" · ")[0].split()) in shown, shown
    audit("invitation-booked", screenshot=shots)
    with live_server.app.app_context():
        booked = db.session.scalars(
            select(Reservation).where(Reservation.confirmation_code == code.replace("-", ""))
        ).one()
        assert (booked.status, booked.slot_id, booked.first_name) == (
            "confirmed",
            chosen_id,
            resident["first_name"],
        )
    spent = translated(locale, "This invitation has already been used to book.")
    page.goto(address)  # the link again: spent
    assert spent in page.locator("main").inner_text()
    other.goto(address)  # and for the other person too
    assert spent in other.locator("main").inner_text()

    # The agent looks the caller up again and sees the invitation to tell them about.
    agent.goto("/agent/preregister")
    agent.locator("main details", has=agent.locator("#find_first_name")).locator("summary").click()
    agent.fill("#find_first_name", caller["first_name"])
    agent.fill("#find_last_name", caller["last_name"])
    agent.fill("#dob", caller["date_of_birth"])
    submit(agent, "dob")
    agent.wait_for_url("**/agent/preregistrations/*")
    assert translated(locale, "Call back: %(phone)s").split("%")[0] in agent.content()
    assert invitation_of(live_server, caller) is not None
    invited = translated(locale, "Invited to book at %(clinic)s on %(day)s.").split("%")[0]
    assert invited in agent.locator("main").inner_text()
    audit.assert_clean()
    other_audit.assert_clean()
