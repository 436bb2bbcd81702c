"""The residents' HTML pages end to end, with CSRF on: find, hold, book, manage, look up."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from booking.db import db
from booking.models import Reservation, Slot
from booking.services.tokens import CODE_ALPHABET
from tests.support import DOB, booking_form, csrf_from, make_clinic, make_slot

CODE_RE = re.compile(f'<p class="code"[^>]*>([{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}})</p>')
ALERT_RE = re.compile(r'<div class="error-summary" role="alert"><p>(.*?)</p></div>')


@pytest.fixture
def world(app, now):
    """A Boston clinic with three 08:00-ish slots tomorrow and one the day after."""
    with app.app_context():
        clinic = make_clinic(db.session, now, name="Fenway Community Health")
        first = make_slot(db.session, clinic, now + timedelta(days=1), capacity=2)
        single = make_slot(db.session, clinic, now + timedelta(days=1, hours=1), capacity=1)
        later_slot = make_slot(db.session, clinic, now + timedelta(days=2), capacity=2)
        db.session.commit()
        return SimpleNamespace(
            clinic=clinic.id,
            address=clinic.address_line,
            slot=first.id,
            single=single.id,
            later=later_slot.id,
        )


def text(response):
    return response.get_data(as_text=True)


def counters(app, slot_id):
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        return slot.held, slot.booked


def token(client):
    return csrf_from(text(client.get("/lookup")))


def hold(client, slot_id):
    response = client.post(
        f"/slots/{slot_id}/hold", data={"csrf_token": token(client), "date_of_birth": DOB}
    )
    assert response.status_code == 303, text(response)[:500]
    assert response.headers["Location"].startswith("/book/")
    return response.headers["Location"].rsplit("/", 1)[1]


def book(client, hold_id, **overrides):
    response = client.post(f"/book/{hold_id}", data=booking_form(token(client), **overrides))
    assert response.status_code == 303, text(response)[:2000]
    assert response.headers["Location"] == "/confirmation"
    confirmation = text(client.get("/confirmation"))
    code = CODE_RE.search(confirmation).group(1)
    link = re.search(r'<a href="(http://fairslot\.test/manage/[^"]+)">', confirmation).group(1)
    return code, link, confirmation


def test_search_from_the_start_page(client, world):
    start = client.get("/")
    assert start.status_code == 200
    assert 'action="/search"' in text(start)
    assert 'name="zip"' in text(start)
    found = client.get("/search?zip=02115&radius_miles=10")
    assert found.status_code == 200
    page = text(found)
    assert "Fenway Community Health" in page
    assert f'href="/clinics/{world.clinic}' in page
    assert "5 appointments available" in page
    unknown = client.get("/search?zip=00000")
    assert unknown.status_code == 422
    assert "We do not know that ZIP code. Check it and try again." in text(unknown)
    assert 'aria-invalid="true"' in text(unknown)


def test_clinic_page_shows_days_and_free_times(client, world):
    response = client.get(f"/clinics/{world.clinic}?date=2026-03-03")
    page = text(response)
    assert response.status_code == 200
    assert world.address in page
    assert f'action="/slots/{world.slot}/hold"' in page
    assert f'action="/slots/{world.single}/hold"' in page
    assert f'action="/slots/{world.later}/hold"' not in page  # a different day
    other_day = text(client.get(f"/clinics/{world.clinic}?date=2026-03-04"))
    assert f'action="/slots/{world.later}/hold"' in other_day


def test_hold_book_confirm_manage_reschedule_and_cancel(app, client, world):
    csrf = csrf_from(text(client.get(f"/clinics/{world.clinic}?date=2026-03-03")))
    placed = client.post(
        f"/slots/{world.slot}/hold", data={"csrf_token": csrf, "date_of_birth": DOB}
    )
    assert placed.status_code == 303
    hold_id = placed.headers["Location"].rsplit("/", 1)[1]
    assert counters(app, world.slot) == (1, 0)
    form = text(client.get(f"/book/{hold_id}"))
    assert "Fenway Community Health" in form
    assert world.address in form

    refused = client.post(
        f"/book/{hold_id}", data=booking_form(csrf, first_name="", date_of_birth="2021-02-30")
    )
    page = text(refused)
    assert refused.status_code == 422
    assert '<a href="#first_name">Enter your first name.</a>' in page
    assert re.search(
        r'id="first_name"[^>]*aria-describedby="first_name-error"\s+aria-invalid="true"', page
    )
    assert re.search(r'id="date_of_birth-error">.*That date does not exist\.', page)
    assert re.search(
        r'id="date_of_birth"[^>]*aria-describedby="date_of_birth-hint date_of_birth-error"', page
    )
    assert 'value="Lopez"' in page  # what was right is kept
    assert counters(app, world.slot) == (1, 0)

    code, link, confirmation = book(client, hold_id)
    assert counters(app, world.slot) == (0, 1)
    assert world.address in confirmation
    assert "Maria Lopez" in confirmation
    assert client.get(f"/book/{hold_id}").headers["Location"] == "/confirmation"

    phone = client.application.test_client()  # the link opened later, from a text message
    opened = phone.get(link.removeprefix("http://fairslot.test"))
    assert opened.status_code == 303
    assert opened.headers["Location"] == "/manage"
    manage = text(phone.get("/manage"))
    assert code in manage
    assert "<dd>Booked</dd>" in manage  # the status, in words (booking.i18n.STATUS_LABELS)

    choose = text(phone.get("/manage/reschedule?date=2026-03-04"))
    assert f'name="slot_id" value="{world.later}"' in choose
    moved = phone.post(
        "/manage/reschedule", data={"csrf_token": csrf_from(choose), "slot_id": world.later}
    )
    assert moved.status_code == 303
    assert "Your appointment has moved" in text(phone.get(moved.headers["Location"]))
    assert counters(app, world.slot) == (0, 0)
    assert counters(app, world.later) == (0, 1)

    ask = text(phone.get("/manage/cancel"))
    assert "Cancel your appointment?" in ask
    cancelled = phone.post("/manage/cancel", data={"csrf_token": csrf_from(ask)})
    assert cancelled.status_code == 303
    after = text(phone.get(cancelled.headers["Location"]))
    assert "Your appointment is cancelled" in after
    assert "Cancelled" in after
    assert "/manage/cancel" not in after  # nothing left to cancel
    assert counters(app, world.later) == (0, 0)


def test_what_residents_typed_is_escaped_on_every_page(app, client, world):
    typed = {"first_name": "<script>alert(1)</script>", "last_name": "O'Neil OR 1=1 --"}
    *_, confirmation = book(client, hold(client, world.slot), **typed)
    for page in (confirmation, text(client.get("/manage"))):
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Neil OR 1=1 --" in page
    assert counters(app, world.slot) == (0, 1)  # the SQL-looking name was stored as text


def test_lookup_by_code_and_birth_date(client, world):
    code, _, _ = book(client, hold(client, world.slot))
    stranger = client.application.test_client()
    csrf = token(stranger)
    found = stranger.post(
        "/lookup", data={"csrf_token": csrf, "code": code.lower(), "dob": "1950-04-27"}
    )
    assert found.status_code == 303
    assert code in text(stranger.get(found.headers["Location"]))

    wrong = stranger.post("/lookup", data={"csrf_token": csrf, "code": code, "dob": "1950-04-28"})
    unknown_code = next(c * 8 for c in CODE_ALPHABET if c * 8 != code.replace("-", ""))
    unknown = stranger.post(
        "/lookup", data={"csrf_token": csrf, "code": unknown_code, "dob": "1950-04-27"}
    )
    assert wrong.status_code == unknown.status_code == 422
    assert ALERT_RE.findall(text(wrong)) == ALERT_RE.findall(text(unknown))
    assert ALERT_RE.findall(text(wrong)) == [
        "We could not find a reservation with that code and date of birth."
    ]


def test_lookup_form_is_rate_limited(client):
    csrf = token(client)
    form = {"csrf_token": csrf, "code": "ABCD-2345", "dob": "1960-01-01"}
    assert {client.post("/lookup", data=form).status_code for _ in range(10)} == {422}
    limited = client.post("/lookup", data=form)
    assert limited.status_code == 429
    assert "Too many attempts" in text(limited)
    assert limited.headers["Retry-After"]


def test_releasing_a_hold_gives_the_time_back(app, client, world):
    hold_id = hold(client, world.single)
    assert counters(app, world.single) == (1, 0)
    released = client.post(f"/book/{hold_id}/release", data={"csrf_token": token(client)})
    assert released.status_code == 303
    assert released.headers["Location"] == f"/clinics/{world.clinic}"
    assert counters(app, world.single) == (0, 0)
    assert client.get(f"/book/{hold_id}").status_code == 404


def test_an_expired_hold_shows_a_page_and_the_time_goes_to_someone_else(app, client, world, later):
    hold_id = hold(client, world.single)
    later(minutes=11)
    expired = client.get(f"/book/{hold_id}")
    assert expired.status_code == 410
    assert "Your hold ran out" in text(expired)
    assert f'href="/clinics/{world.clinic}"' in text(expired)
    other = client.application.test_client()
    hold(other, world.single)  # the expired place is reclaimed for the next resident
    assert counters(app, world.single) == (1, 0)
    late = client.post(f"/book/{hold_id}", data=booking_form(token(client)))
    assert late.status_code == 404  # the browser's hold was cleared with the expiry page
    assert counters(app, world.single) == (1, 0)


def test_an_expired_hold_cannot_be_booked(app, client, world, later):
    hold_id = hold(client, world.single)
    csrf = token(client)
    later(minutes=10)
    late = client.post(f"/book/{hold_id}", data=booking_form(csrf))
    assert late.status_code == 410
    assert "Your hold ran out" in text(late)
    assert counters(app, world.single) == (1, 0)  # nothing booked


def test_one_hold_per_browser(app, client, world):
    first = hold(client, world.slot)
    second = hold(client, world.single)
    assert counters(app, world.slot) == (0, 0)
    assert counters(app, world.single) == (1, 0)
    assert client.get(f"/book/{first}").status_code == 404
    assert client.get(f"/book/{second}").status_code == 200


def test_a_hold_link_does_not_work_in_another_browser(app, client, world):
    hold_id = hold(client, world.slot)
    other = client.application.test_client()
    assert other.get(f"/book/{hold_id}").status_code == 404
    stolen = other.post(f"/book/{hold_id}", data=booking_form(token(other)))
    assert stolen.status_code == 404
    released = other.post(f"/book/{hold_id}/release", data={"csrf_token": token(other)})
    assert released.status_code == 404
    assert counters(app, world.slot) == (1, 0)
    assert client.get(f"/book/{hold_id}").status_code == 200


def test_a_full_time_shows_the_slot_taken_page(app, client, world):
    hold(client.application.test_client(), world.single)
    taken = client.post(
        f"/slots/{world.single}/hold", data={"csrf_token": token(client), "date_of_birth": DOB}
    )
    assert taken.status_code == 409
    assert "That time was just taken" in text(taken)
    assert f'href="/clinics/{world.clinic}"' in text(taken)
    assert counters(app, world.single) == (1, 0)


def test_the_same_person_cannot_book_twice(app, client, world):
    book(client, hold(client, world.slot))
    again = client.post(f"/book/{hold(client, world.later)}", data=booking_form(token(client)))
    assert again.status_code == 409
    assert "already has an appointment for this vaccine" in text(again)
    assert counters(app, world.later) == (1, 0)


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_posts_without_a_valid_csrf_token_are_refused(app, client, world, csrf):
    hold_id = hold(client, world.slot)
    data = {} if csrf is None else {"csrf_token": csrf}
    for url in (f"/slots/{world.single}/hold", f"/book/{hold_id}", "/lookup"):
        form = booking_form(csrf) if url.startswith("/book/") else dict(data)
        if csrf is None:
            form.pop("csrf_token", None)
        refused = client.post(url, data=form)
        assert refused.status_code == 400
        assert "CSRF" in text(refused)
    assert counters(app, world.slot) == (1, 0)
    assert counters(app, world.single) == (0, 0)


def test_the_confirmation_gives_a_calendar_file_a_qr_code_and_where_it_was_sent(client, world):
    hold_id = hold(client, world.slot)
    code, _, page = book(client, hold_id, email="rosa@example.org")
    assert "We have sent this to rosa@example.org and by text message to (617)" in page
    assert 'src="/confirmation/code.png"' in page and 'href="/confirmation/appointment.ics"' in page
    ics = client.get("/confirmation/appointment.ics")
    assert ics.mimetype == "text/calendar"
    body = ics.get_data(as_text=True)
    assert body.startswith("BEGIN:VCALENDAR") and body.count("BEGIN:VEVENT") == 1
    assert code in body and "/manage/" not in body  # the look-up page, never the private link
    png = client.get("/confirmation/code.png")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    # Another browser has booked nothing: no file, no code.
    other = client.application.test_client()
    assert other.get("/confirmation/appointment.ics").status_code == 404
    assert other.get("/confirmation/code.png").status_code == 404


def test_the_session_cookie_keeps_no_manage_token(app, client, world):
    code, link, _ = book(client, hold(client, world.slot))
    manage_token = link.rsplit("/", 1)[1]
    raw = client.get_cookie("session", domain="fairslot.test").value
    stored = app.session_interface.get_signing_serializer(app).loads(raw)
    assert manage_token not in repr(stored)  # signed, not encrypted: readable by anyone
    assert set(stored["confirmed"]) == {"id"}
    # The page derives the link again, and it works in another browser.
    assert link in text(client.get("/confirmation"))
    phone = app.test_client()
    assert phone.get(link).headers["Location"] == "/manage"
    assert code in text(phone.get("/manage"))


def test_the_confirmation_shows_no_link_that_cannot_work(app, client, world):
    book(client, hold(client, world.slot))
    with app.app_context():  # as after a change of secret key: the derived token matches no more
        db.session.execute(update(Reservation).values(manage_token_hash="0" * 64))
        db.session.commit()
    page = text(client.get("/confirmation"))
    assert "Maria" in page and 'class="manage-link"' not in page
