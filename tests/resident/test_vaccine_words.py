"""The vaccine in plain words on every page and message, and the clinic page's vaccine filter."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking.db import db
from booking.i18n import COOKIE
from booking.messages.render import load_context, render_message
from booking.models import OutboxMessage, VaccineProduct
from tests.jobs.support import book as book_directly
from tests.staff import agent_support, clinic_support
from tests.support import DOB, booking_form, csrf_from, make_clinic, make_slot

MODERNA = "COVID-19 vaccine (Moderna)"
MODERNA_ES = "Vacuna contra el COVID-19 (Moderna)"
JANSSEN = "COVID-19 vaccine (Janssen)"


def html(response):
    return response.get_data(as_text=True)


def product_id(key):
    return db.session.scalars(select(VaccineProduct.id).where(VaccineProduct.key == key)).one()


@pytest.fixture
def world(app, now):
    """A Boston clinic running Moderna at 08:00 and Janssen at 09:00 tomorrow, and flu at 10:00;
    a second clinic nearby with Janssen only (make_slot's one-dose COVID-19 default)."""
    with app.app_context():
        clinic = make_clinic(db.session, now, name="Fenway Community Health")
        start = now + timedelta(days=1)
        moderna = make_slot(
            db.session, clinic, start, product_id=product_id("moderna-covid19"), capacity=2
        )
        # Moderna is a course: its dose 2 is booked with dose 1, at the same wall-clock time
        # 28 days later (across the change to daylight saving time).
        local = start.astimezone(ZoneInfo("America/New_York"))
        make_slot(
            db.session,
            clinic,
            (local + timedelta(days=28)).replace(tzinfo=ZoneInfo("America/New_York")),
            product_id=product_id("moderna-covid19"),
        )
        janssen = make_slot(db.session, clinic, start + timedelta(hours=1))
        flu = make_slot(db.session, clinic, start + timedelta(hours=2), service="flu")
        other = make_clinic(db.session, now, name="Janssen Only Pharmacy")
        make_slot(db.session, other, start)
        db.session.commit()
        return SimpleNamespace(
            clinic=clinic.id, other=other.id, moderna=moderna.id, janssen=janssen.id, flu=flu.id
        )


def book_moderna(client, world):
    csrf = csrf_from(html(client.get("/lookup")))
    held = client.post(
        f"/slots/{world.moderna}/hold", data={"csrf_token": csrf, "date_of_birth": DOB}
    )
    assert held.status_code == 303
    form_page = client.get(held.headers["Location"])
    booked = client.post(held.headers["Location"], data=booking_form(csrf))
    assert booked.status_code == 303, html(booked)[:2000]
    return html(form_page)


@pytest.mark.parametrize(
    ("language", "words", "flu"),
    [
        ("en", MODERNA, "Flu vaccine (Fluzone Quadrivalent)"),
        ("es", MODERNA_ES, "Vacuna contra la influenza (gripe) (Fluzone Quadrivalent)"),
    ],
)
def test_every_resident_page_names_the_product(client, world, language, words, flu):
    client.set_cookie(COOKIE, language, domain="fairslot.test")
    clinic_page = html(client.get(f"/clinics/{world.clinic}"))
    assert words in clinic_page and flu in clinic_page
    assert words in book_moderna(client, world)  # the hold form's summary
    assert words in html(client.get("/confirmation"))
    assert words in html(client.get("/manage"))
    assert words in html(client.get("/manage/cancel"))
    assert words in html(client.get("/manage/reschedule"))


def test_the_filter_narrows_times_and_carries_in_the_day_links(client, world):
    moderna_only = html(client.get(f"/clinics/{world.clinic}?vaccine=moderna-covid19"))
    times = moderna_only.split('id="times-heading"')[1]
    assert MODERNA in times and JANSSEN not in times and "Fluzone" not in times
    assert "vaccine=moderna-covid19" in moderna_only  # the day picker keeps the choice
    assert '<option value="moderna-covid19" selected>' in moderna_only
    any_covid = html(client.get(f"/clinics/{world.clinic}?vaccine=covid19"))
    times = any_covid.split('id="times-heading"')[1]
    assert MODERNA in times and JANSSEN in times and "Fluzone" not in times
    everything = html(client.get(f"/clinics/{world.clinic}")).split('id="times-heading"')[1]
    assert MODERNA in everything and "Fluzone" in everything


@pytest.mark.parametrize("value", ["sputnik-covid19", "9" * 5000, "MODERNA", "-"])
def test_a_hostile_filter_is_a_form_error(client, world, value):
    response = client.get(f"/clinics/{world.clinic}", query_string={"vaccine": value})
    assert response.status_code == 422
    page = html(response)
    assert "Choose a vaccine from the list." in page and 'aria-invalid="true"' in page
    assert MODERNA in page  # every time is still there to choose from


def test_the_api_filters_clinics_and_slots_by_product(client, world):
    found = client.get("/api/v1/clinics?zip=02115&product=moderna-covid19").get_json()
    assert [c["id"] for c in found["clinics"]] == [world.clinic]
    both = client.get("/api/v1/clinics?zip=02115&service=covid19").get_json()
    assert {c["id"] for c in both["clinics"]} == {world.clinic, world.other}
    day = client.get(
        f"/api/v1/clinics/{world.clinic}/slots?date=2026-03-03&product=moderna-covid19"
    ).get_json()["slots"]
    assert [s["id"] for s in day] == [world.moderna]
    assert day[0]["vaccine"] == {
        "product": "moderna-covid19",
        "service": "covid19",
        "name": "Moderna",
        "manufacturer": "Moderna",
        "cvx_code": "207",
        "description": MODERNA,
    }


@pytest.mark.parametrize(
    "query",
    [
        "service=flu&product=moderna-covid19",  # another service's product
        "product=sputnik-covid19",
        "product=covid19",  # a service is not a product
        "product=" + "9" * 5000,
    ],
)
def test_the_api_refuses_a_bad_product_with_a_problem(client, world, query):
    for url in (
        "/api/v1/clinics?zip=02115&",
        f"/api/v1/clinics/{world.clinic}/slots?date=2026-03-03&",
    ):
        response = client.get(url + query)
        assert response.status_code == 422, response.get_data(as_text=True)[:300]
        assert response.mimetype == "application/problem+json"
        assert any(e["pointer"] == "#/product" for e in response.get_json()["errors"])


def rendered(app, reservation_id, channel, kind="confirmation"):
    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.reservation_id == reservation_id,
                OutboxMessage.kind == kind,
                OutboxMessage.channel == channel,
            )
        ).one()
        return render_message(load_context(db.session, message), now=app.config["CLOCK"]())


def test_messages_name_the_product_in_the_residents_language(app, client, world):
    client.set_cookie(COOKIE, "es", domain="fairslot.test")
    book_moderna(client, world)
    with app.app_context():
        reservation_id = db.session.scalars(
            select(OutboxMessage.reservation_id).where(OutboxMessage.kind == "confirmation")
        ).first()
    email = rendered(app, reservation_id, "email")
    assert MODERNA_ES in email.subject and MODERNA_ES in email.text and MODERNA_ES in email.html
    assert email.ics is not None and "SUMMARY:Vacuna contra el COVID-19 (Moderna)\\, " in email.ics
    sms = rendered(app, reservation_id, "sms")
    assert MODERNA_ES in sms.text


def test_an_english_sms_stays_within_two_segments(app, now):
    booked = book_directly(app, now)
    sms = rendered(app, booked["reservation_id"], "sms")
    assert JANSSEN in sms.text
    # Plain GSM text: two concatenated segments carry 306 characters.
    assert sms.text.isascii() and len(sms.text) <= 306, (len(sms.text), sms.text)


def test_the_agent_sees_the_product_in_words(app, now):
    ids = agent_support.make_accounts(app, now)
    agent = agent_support.sign_in(app, "agent", now)
    held = agent_support.hold(agent, ids["flu_slot"])
    assert held.status_code == 303
    details = agent.get(held.headers["Location"])
    assert "Flu vaccine (Fluzone Quadrivalent)" in html(details)
    done = agent_support.book(agent, held.headers["Location"])
    assert done.status_code == 303, html(done)[:2000]
    booked_page = html(agent.get(done.headers["Location"]))
    assert "Flu vaccine (Fluzone Quadrivalent)" in booked_page
    with app.app_context():
        reservation_id = db.session.scalars(
            select(OutboxMessage.reservation_id).where(OutboxMessage.kind == "confirmation")
        ).first()
    page = html(agent.get(f"/agent/reservations/{reservation_id}"))
    assert "Flu vaccine (Fluzone Quadrivalent)" in page and ">flu<" not in page


def test_the_roster_and_its_csv_name_the_product(app, clock):
    ids = clinic_support.build_world(app, clock)
    staff = clinic_support.client_for(app, clock, "clinic_manager")
    day = ids["day"].isoformat()
    page = html(staff.get(f"/clinic/{ids['mine']}/roster?date={day}"))
    assert page.count(JANSSEN) >= 2 and ">covid19<" not in page
    exported = staff.get(f"/clinic/{ids['mine']}/export.csv?from={day}&to={day}")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert list(rows[0]) == [
        "date",
        "time",
        "service",
        "code",
        "first_name",
        "last_name",
        "date_of_birth",
        "phone",
        "email",
        "status",
        "channel",
    ]
    assert {row["service"] for row in rows} == {JANSSEN}
    staff.set_cookie(COOKIE, "es", domain="fairslot.test")
    spanish = staff.get(f"/clinic/{ids['mine']}/export.csv?from={day}&to={day}")
    assert "Vacuna contra el COVID-19 (Janssen)" in spanish.get_data(as_text=True)
