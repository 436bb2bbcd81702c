"""The resident's language travels with the booking: stored on it, used for every message, and
service errors are translated when shown, not when raised."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from flask import render_template_string
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from booking.db import db
from booking.i18n import COOKIE, translate
from booking.messages.render import load_context, render_message
from booking.models import OutboxMessage, Reservation
from booking.services.text import N_
from tests.conftest import rolled_back_app
from tests.jobs.support import book as book_directly
from tests.staff import agent_support
from tests.support import DOB, booking_form, csrf_from, make_clinic, make_slot

SPANISH = {
    "Enter your first name.": "Escriba su nombre.",
    "Please correct the highlighted fields.": "Corrija los campos marcados.",
    "We do not know that ZIP code. Check it and try again.": "No conocemos ese código postal.",
    "Please correct the search.": "Corrija la búsqueda.",
    "Invalid input": "Datos no válidos",
    "Enter a whole number from %(low)d to %(high)d.": "Escriba un número entero del %(low)d al "
    "%(high)d.",
    "Choose one of: %(choices)s.": "Elija una de estas: %(wrong)s.",  # a broken translation
}


def html(response):
    return response.get_data(as_text=True)


@pytest.fixture
def spanish_app(database_url, clock, tmp_path):
    """An app reading a tiny Spanish catalog written for the test."""
    catalog = Catalog(locale="es")
    for msgid, msgstr in SPANISH.items():
        catalog.add(msgid, msgstr, flags=("python-format",) if "%(" in msgid else ())
    folder = tmp_path / "catalogs" / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as out:
        write_mo(out, catalog)
    directory = str(tmp_path / "catalogs")
    with rolled_back_app(
        database_url, clock, tmp_path, BABEL_TRANSLATION_DIRECTORIES=directory
    ) as app:
        yield app


@pytest.fixture
def world(app, now):
    """A Boston clinic with a slot on Tuesday 3 March 2026 at 08:00."""
    with app.app_context():
        clinic = make_clinic(db.session, now, name="Fenway Community Health")
        slot = make_slot(db.session, clinic, now + timedelta(days=1), capacity=2)
        db.session.commit()
        return SimpleNamespace(clinic=clinic.id, slot=slot.id)


def resident_books(client, slot_id):
    csrf = csrf_from(html(client.get("/lookup")))
    held = client.post(f"/slots/{slot_id}/hold", data={"csrf_token": csrf, "date_of_birth": DOB})
    assert held.status_code == 303, html(held)[:500]
    booked = client.post(held.headers["Location"], data=booking_form(csrf))
    assert booked.status_code == 303, html(booked)[:2000]


def rendered(app, reservation_id, channel):
    """The confirmation on ``channel``, rendered as the worker would send it."""
    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.reservation_id == reservation_id,
                OutboxMessage.kind == "confirmation",
                OutboxMessage.channel == channel,
            )
        ).one()
        ctx = load_context(db.session, message)
        return render_message(ctx, now=app.config["CLOCK"]()), message.locale


def stored_locale(app, **where):
    with app.app_context():
        return db.session.scalars(select(Reservation).filter_by(**where)).one().locale


def test_a_resident_booking_keeps_the_page_language_for_its_messages(app, client, world):
    client.set_cookie(COOKIE, "es", domain="fairslot.test")
    resident_books(client, world.slot)
    assert stored_locale(app, slot_id=world.slot) == "es"
    with app.app_context():
        reservation_id = db.session.scalar(select(Reservation.id))
    sms, locale = rendered(app, reservation_id, "sms")
    assert locale == "es"
    # Babel's calendar data words the day: proof of the locale before any translation exists.
    assert "mar, 3 de mar, 8:00 a.m." in sms.text and "Tue" not in sms.text
    email, _ = rendered(app, reservation_id, "email")
    assert "martes, 3 de marzo de 2026" in email.text
    assert '<html lang="es">' in email.html
    assert "martes" in email.subject or "mar" in email.subject


def test_messages_follow_the_reservation_not_the_request(app, now):
    booked = book_directly(app, now)
    with app.app_context():
        db.session.execute(
            text("UPDATE reservation SET locale = 'vi' WHERE id = :id"),
            {"id": booked["reservation_id"]},
        )
        db.session.commit()
    sms, locale = rendered(app, booked["reservation_id"], "sms")
    assert locale == "en"  # the row was written before the change...
    assert "5 thg 3" in sms.text  # ...but the message is rendered in the reservation's language


def test_an_english_booking_stays_english(app, client, world):
    resident_books(client, world.slot)
    assert stored_locale(app, slot_id=world.slot) == "en"


def test_the_locale_column_only_takes_shipped_languages(app, now):
    booked = book_directly(app, now)
    with app.app_context(), pytest.raises(IntegrityError):
        db.session.execute(
            text("UPDATE reservation SET locale = 'fr' WHERE id = :id"),
            {"id": booked["reservation_id"]},
        )
        db.session.flush()


def test_an_agent_books_in_the_callers_language(app, now):
    ids = agent_support.make_accounts(app, now)
    agent = agent_support.sign_in(app, "agent", now)
    slot = ids["slots"][0]
    held = agent_support.hold(agent, slot)
    form = html(agent.get(held.headers["Location"]))
    assert '<select id="caller_language" name="caller_language"' in form
    assert '<option value="en" lang="en" selected>English</option>' in form  # the page's language
    assert '<option value="zh_Hans" lang="zh-Hans" >简体中文</option>' in form

    refused = agent_support.book(agent, held.headers["Location"], caller_language="xx")
    assert refused.status_code == 422
    assert "Choose the language the caller wants messages in." in html(refused)

    booked = agent_support.book(agent, held.headers["Location"], caller_language="vi")
    assert booked.status_code == 303, html(booked)[:2000]
    assert stored_locale(app, slot_id=slot) == "vi"
    with app.app_context():
        reservation_id = db.session.scalars(select(Reservation.id).filter_by(slot_id=slot)).one()
    sms, locale = rendered(app, reservation_id, "sms")
    assert locale == "vi" and "Th 3, 3 thg 3" in sms.text  # Tuesday 3 March


def test_the_callers_language_defaults_to_the_agents_page(app, now):
    ids = agent_support.make_accounts(app, now)
    agent = agent_support.sign_in(app, "agent", now)
    agent.set_cookie(COOKIE, "pt", domain="fairslot.test")
    slot = ids["slots"][1]
    held = agent_support.hold(agent, slot)
    assert 'value="pt" lang="pt" selected' in html(agent.get(held.headers["Location"]))
    booked = agent_support.book(agent, held.headers["Location"])  # no language sent
    assert booked.status_code == 303, html(booked)[:2000]
    assert stored_locale(app, slot_id=slot) == "pt"


def test_service_errors_are_translated_when_the_page_is_rendered(spanish_app, now):
    with spanish_app.app_context():
        clinic = make_clinic(db.session, now)
        slot = make_slot(db.session, clinic, now + timedelta(days=1))
        db.session.commit()
        slot_id = slot.id
    client = spanish_app.test_client()
    client.set_cookie(COOKIE, "es", domain="fairslot.test")
    csrf = csrf_from(html(client.get("/lookup")))
    held = client.post(f"/slots/{slot_id}/hold", data={"csrf_token": csrf, "date_of_birth": DOB})
    refused = client.post(
        held.headers["Location"],
        data={"csrf_token": csrf, "first_name": "", "last_name": "Lopez", "phone": "6175550123"},
    )
    page = html(refused)
    assert refused.status_code == 422
    assert '<a href="#first_name">Escriba su nombre.</a>' in page
    assert "Enter your first name." not in page

    english = spanish_app.test_client()
    csrf = csrf_from(html(english.get("/lookup")))
    held = english.post(f"/slots/{slot_id}/hold", data={"csrf_token": csrf, "date_of_birth": DOB})
    refused = english.post(held.headers["Location"], data={"csrf_token": csrf})
    assert "Enter your first name." in html(refused)  # the same error, another reader


def test_api_problems_speak_the_clients_language(spanish_app):
    client = spanish_app.test_client()
    response = client.get("/api/v1/clinics?zip=00000", headers={"Accept-Language": "es"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["title"] == "Datos no válidos"
    assert body["detail"] == "Corrija la búsqueda."
    assert {"pointer": "#/zip", "detail": "No conocemos ese código postal."} in body["errors"]
    assert body["type"] == "urn:fairslot:problem:invalid-input"  # stable in every language
    assert response.headers["Content-Language"] == "es"
    english = client.get("/api/v1/clinics?zip=00000").get_json()
    assert english["detail"] == "Please correct the search."


def test_marked_text_is_translated_then_filled_in(spanish_app):
    number = N_("Enter a whole number from %(low)d to %(high)d.", low=1, high=50)
    broken = N_("Choose one of: %(choices)s.", choices="covid19, flu")
    assert number == "Enter a whole number from 1 to 50."  # the services' English, as before
    with spanish_app.test_request_context(headers={"Accept-Language": "es"}):
        assert translate(number) == "Escriba un número entero del 1 al 50."
        # In a template, a marked message is translated as it is printed.
        assert render_template_string("{{ m }}", m=number) == translate(number)
        # A translation whose placeholders do not match shows the English, not a 500.
        assert translate(broken) == "Choose one of: covid19, flu."
        assert translate("plain text") == "plain text"
    with spanish_app.test_request_context():
        assert translate(number) == "Enter a whole number from 1 to 50."


def test_sms_text_has_no_narrow_spaces(app, now):
    booked = book_directly(app, now)
    sms, _ = rendered(app, booked["reservation_id"], "sms")
    assert "\u202f" not in sms.text and re.search(r"\d:\d\d AM", sms.text)
