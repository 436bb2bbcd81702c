"""A resident books a two-dose course, dose 2 only, and a one-dose product in a real browser
(EN and ES); the vaccine and the dose are named on every page of the flow. The course pages are
audited (axe, targets, reflow) and their screenshots saved at phone and desktop widths."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import Slot, VaccineProduct
from booking.services import courses
from tests.e2e.audit import Audit
from tests.e2e.conftest import LiveServer, expected_lang, translated
from tests.e2e.flows import fill_details_and_book, give_birth_date, heading, html_lang, submit

LOCALES = ["en-US", "es-ES"]


def free_slot(server: LiveServer, *, course: bool) -> tuple[Slot, VaccineProduct]:
    """A free time at the clinic for a two-dose product whose default dose 2 is free (or for a
    one-dose product), with the product."""
    with server.app.app_context():
        soon = datetime.now(UTC) + timedelta(hours=1)
        found = db.session.execute(
            select(Slot, VaccineProduct)
            .join(VaccineProduct, VaccineProduct.id == Slot.product_id)
            .where(
                # The demo's main clinic runs two-dose vaccines; a one-dose one is elsewhere.
                (Slot.clinic_id == server.clinic_id) if course else True,
                Slot.starts_at > soon,
                Slot.is_open.is_(True),
                Slot.booked + Slot.held + 1 < Slot.capacity,
                VaccineProduct.doses == (2 if course else 1),
            )
            .order_by(Slot.starts_at)
        ).all()
        for slot, product in found:
            second = courses.default_second_dose(db.session, slot) if course else None
            if not course or (second is not None and second.booked + second.held < second.capacity):
                db.session.expunge_all()
                return slot, product
    pytest.skip("the demo clinic has no such time")


def open_time(page: Any, server: LiveServer, slot: Slot) -> None:
    """Open the clinic page on the time's day, give the date of birth, and hold the time."""
    day = slot.starts_at.astimezone(ZoneInfo("America/New_York")).date().isoformat()
    page.goto(f"/clinics/{slot.clinic_id}?date={day}&slot={slot.id}")
    if page.locator("#who #date_of_birth").count():
        give_birth_date(page)
    page.locator("#chosen-slot button").click()
    page.wait_for_url("**/book/**")


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_books_a_two_dose_course(new_page: Any, live_server: LiveServer, locale: str):
    slot, product = free_slot(live_server, course=True)
    page = new_page(locale=locale)
    open_time(page, live_server, slot)
    audit = Audit(page, locale, reflow=True)
    main = page.locator("main")
    assert product.name in main.inner_text()
    dose_two = page.locator("select[name=second_dose_slot_id]")
    assert dose_two.count() == 1 and dose_two.input_value() != ""
    if locale == "en-US":
        assert "days after dose 1" in main.inner_text()
    audit("course-book-form", screenshot=locale == "en-US")
    fill_details_and_book(page)
    assert html_lang(page) == expected_lang(locale)
    assert heading(page) == translated(locale, "You are booked")
    text = page.locator("main").inner_text()
    assert text.count(product.name) >= 2  # dose 1 and dose 2, each named
    audit("course-confirmation", screenshot=locale == "en-US")
    page.goto("/manage")
    assert page.locator("main").inner_text().count(product.name) >= 2
    audit("course-manage", screenshot=locale == "en-US")
    audit.assert_clean()


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_books_dose_two_only(new_page: Any, live_server: LiveServer, locale: str):
    slot, product = free_slot(live_server, course=True)
    page = new_page(locale=locale)
    audit = Audit(page, locale, reflow=True)
    page.goto(f"/clinics/{slot.clinic_id}/dose-two")
    audit("course-dose-two-only-form")
    # Dose 1 given elsewhere so that dose 2 is due from this slot's day on.
    assert product.interval_days is not None
    zone = ZoneInfo("America/New_York")
    given = slot.starts_at.astimezone(zone).date() - timedelta(days=product.interval_days)
    page.select_option("#product", str(product.id))
    page.fill("#prior_dose_date", given.strftime("%m/%d/%Y"))
    if page.locator("#date_of_birth").count():
        page.fill("#date_of_birth", "04/27/1950")
    submit(page, "prior_dose_date")
    page.wait_for_url("**/dose-two?**")
    assert page.locator("ul.days a[aria-current=date]").count() == 1
    audit("course-dose-two-only-times", screenshot=locale == "en-US")
    page.locator(f"form[action$='/slots/{slot.id}/hold'] button").click()
    page.wait_for_url("**/book/**")
    words = page.locator(".appointment-vaccine").inner_text()
    # "dose 2 of 2" in the page's language, never "dose 1 of 2".
    assert product.name in words
    assert re.findall(r"\d+", words.replace("COVID-19", "")) == ["2", "2"]
    assert page.locator("[name=second_dose_slot_id]").count() == 0
    fill_details_and_book(page)
    assert heading(page) == translated(locale, "You are booked")
    assert product.name in page.locator("main").inner_text()
    audit.assert_clean()


@pytest.mark.parametrize("locale", LOCALES)
def test_resident_books_a_one_dose_product(new_page: Any, live_server: LiveServer, locale: str):
    slot, product = free_slot(live_server, course=False)
    page = new_page(locale=locale)
    open_time(page, live_server, slot)
    assert product.name in page.locator("main").inner_text()
    assert page.locator("[name=second_dose_slot_id]").count() == 0
    fill_details_and_book(page)
    assert product.name in page.locator("main").inner_text()
    page.goto("/manage")
    assert product.name in page.locator("main").inner_text()
