"""Browser steps shared by the end-to-end tests; elements are found by id, role or attribute,
never by their (translated) text."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from booking.db import db
from booking.models import Reservation
from tests.e2e.conftest import ZIP, LiveServer

# Each booking is a different person: one person cannot hold two bookings for one vaccine.
_PEOPLE = itertools.count(1)


def person() -> dict[str, str]:
    """Form values for a new, eligible person."""
    n = next(_PEOPLE)
    return {
        "first_name": "Rosa",
        "last_name": "Resident",
        "date_of_birth": f"04/{n:02d}/1950",
        "phone": f"617-555-{n:04d}",
    }


def submit(page: Any, field_id: str) -> None:
    """Press the submit button of the form that holds the field ``field_id``."""
    form = page.locator("form", has=page.locator(f"#{field_id}"))
    form.locator("button[type=submit]").first.click()


def find_clinic(page: Any, server: LiveServer) -> None:
    """From the home page: search by ZIP, open the clinic, pick a day with free times."""
    page.goto("/")
    page.fill("#zip", ZIP)
    submit(page, "zip")
    clinic = f"/clinics/{server.clinic_id}"
    page.locator(f'.results a[href="{clinic}"], .results a[href^="{clinic}?"]').click()
    give_birth_date(page)
    day = server.bookable_day().isoformat()
    page.locator(f'.days a[href^="?date={day}"]').click()
    assert f"date={day}" in page.url


def give_birth_date(page: Any, value: str = "04/27/1950") -> None:
    """On a clinic page: give the date of birth asked before a time is held."""
    page.fill("#date_of_birth", value)
    submit(page, "date_of_birth")
    page.wait_for_url("**/clinics/**")


def choose_first_time(page: Any) -> None:
    """Press the first free time on the clinic page (this places a hold, or queues)."""
    page.locator("ul.slots .slot-button").first.click()


def fill_details_and_book(page: Any) -> str:
    """On the hold page: fill in the form, book, and return the confirmation code."""
    assert "/book/" in page.url
    for name, value in person().items():
        page.fill(f"#{name}", value)
    page.check("#resident")
    page.check("#eligibility_attested")
    submit(page, "first_name")
    page.wait_for_url("**/confirmation**")
    code = page.locator("main .code").inner_text().strip()
    assert len(code.replace("-", "")) == 8
    return code


def book_as_resident(page: Any, server: LiveServer) -> str:
    """Find, hold and book a slot; return the confirmation code."""
    find_clinic(page, server)
    choose_first_time(page)
    return fill_details_and_book(page)


def html_lang(page: Any) -> str:
    """The page's declared language."""
    return str(page.locator("html").get_attribute("lang"))


def heading(page: Any) -> str:
    """The page's main heading as shown."""
    return page.locator("main h1").first.inner_text().strip()


def reservation_locale(server: LiveServer, code: str) -> str:
    """The language stored with the booking (its messages are sent in it)."""
    with server.app.app_context():
        locale = db.session.scalar(
            select(Reservation.locale).where(Reservation.confirmation_code == code.replace("-", ""))
        )
    return str(locale)


def reservation_status(server: LiveServer, code: str) -> str:
    """The stored state of the booking with this confirmation code."""
    with server.app.app_context():
        status = db.session.scalar(
            select(Reservation.status).where(Reservation.confirmation_code == code.replace("-", ""))
        )
    return str(status)


def sign_in(page: Any, account: tuple[str, str]) -> None:
    """Sign a staff member in on the staff sign-in page."""
    page.goto("/staff/sign-in")
    page.fill("#email", account[0])
    page.fill("#password", account[1])
    submit(page, "password")
    page.wait_for_url("**/staff/")
