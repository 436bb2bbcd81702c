"""The 2-1-1 agent console: a call from search to booking, the queue, eligibility, access, input."""

from __future__ import annotations

import re

from booking.db import db
from booking.models import OutboxMessage, Reservation
from booking.services.agent import spell_code
from tests.conftest import AppFactory
from tests.staff.agent_support import (
    audit_rows,
    book,
    counters,
    hold,
    make_accounts,
    rows,
    sign_in,
    text,
    token,
)
from tests.waiting.support import api_join, html_hold

CODE_RE = re.compile(r'<p class="code"[^>]*>([0-9A-Z]{4}-[0-9A-Z]{4})</p>')


def _reservation(app, **where):
    (found,) = rows(app, Reservation, **where)
    return found


def test_a_whole_call_for_a_phone_only_caller(app, ids, agent):
    first, _second = ids["slots"]
    form = agent.get("/agent/")
    assert form.status_code == 200
    assert re.search(r'<input id="zip"[^>]*autofocus', text(form)), "the ZIP field has focus"

    found = agent.get("/agent/", query_string={"zip": "02115", "radius_miles": "10"})
    assert found.status_code == 200
    page = text(found)
    assert f'action="/agent/slots/{first}/hold"' in page  # the next times are buttons
    assert 'id="results-heading" tabindex="-1" autofocus' in page

    held = hold(agent, first, **{"X-Request-ID": "call-0001-hold"})
    assert held.status_code == 303
    details_url = held.headers["Location"]
    assert details_url.startswith("/agent/holds/")
    assert counters(app, first) == (1, 0)
    assert _reservation(app, slot_id=first).channel == "agent"
    assert agent.get(details_url).status_code == 200

    booked = book(agent, details_url, headers={"X-Request-ID": "call-0001-book"})
    assert booked.status_code == 303, text(booked)[:2000]
    assert counters(app, first) == (0, 1)
    reservation = _reservation(app, slot_id=first)
    assert reservation.status == "confirmed"
    assert reservation.channel == "agent"
    assert reservation.phone == "+16175550142"
    assert reservation.email is None  # no email needed
    assert reservation.eligibility_attested

    confirmation = agent.get(booked.headers["Location"], headers={"X-Request-ID": "call-0001-view"})
    assert confirmation.status_code == 200
    page = text(confirmation)
    code = reservation.confirmation_code
    assert CODE_RE.search(page).group(1) == f"{code[:4]}-{code[4:]}"
    spelled = re.findall(r"<li>(\w) as in ([\w-]+)</li>", page)
    assert [char for char, _ in spelled] == list(code)
    assert spelled == spell_code(code)
    assert spell_code("KM2-9") == [("K", "Kilo"), ("M", "Mike"), ("2", "two"), ("9", "nine")]
    # The text with the code was written with the booking and goes out by itself.
    sms = rows(app, OutboxMessage, reservation_id=reservation.id, kind="confirmation")
    assert [(m.channel, m.recipient) for m in sms] == [("sms", "+16175550142")]
    assert "texted to (617) 555-0142 automatically" in page
    assert "Send by SMS again" not in page  # only offered when sending failed

    entries = audit_rows(app)
    by_action = {row.action: row for row in entries if row.action.startswith("agent.")}
    assert set(by_action) == {"agent.hold", "agent.book", "agent.view_reservation"}
    for action, request_id in (
        ("agent.hold", "call-0001-hold"),
        ("agent.book", "call-0001-book"),
        ("agent.view_reservation", "call-0001-view"),
    ):
        row = by_action[action]
        assert (row.actor_id, row.actor_role) == (ids["agent"], "agent")
        assert (row.record_type, row.record_id) == ("reservation", str(reservation.id))
        assert row.clinic_id == ids["clinic"]
        assert row.request_id == request_id
        assert row.at is not None


def test_an_agent_books_for_a_phone_only_caller_while_the_public_queue_is_full(
    database_url, clock, tmp_path
):
    factory = AppFactory(database_url, clock, tmp_path)
    try:
        app = factory(QUEUE_MODE="always", QUEUE_MAX_ACTIVE=1)
        ids = make_accounts(app, clock())
        slot = ids["slots"][0]
        public = app.test_client()
        assert api_join(public)["state"] == "admitted"  # the one active place is taken
        assert api_join(app.test_client())["state"] == "waiting"
        resident = app.test_client()
        sent_away = html_hold(resident, slot)
        assert sent_away.status_code == 303
        assert sent_away.headers["Location"].startswith("/waiting-room")
        assert counters(app, slot) == (0, 0)

        agent = sign_in(app, "agent", clock())
        held = hold(agent, slot)
        assert held.status_code == 303
        booked = book(agent, held.headers["Location"])
        assert booked.status_code == 303, text(booked)[:2000]
        assert counters(app, slot) == (0, 1)
        reservation = _reservation(app, slot_id=slot)
        assert (reservation.channel, reservation.email) == ("agent", None)
        assert [r.action for r in audit_rows(app) if r.action == "agent.book"] == ["agent.book"]
    finally:
        factory.close()


def test_eligibility_refusal_then_an_override_with_a_written_reason(app, ids, agent):
    slot = ids["rsv_slot"]  # RSV is from age 60 by default
    details_url = hold(agent, slot).headers["Location"]
    young = {"date_of_birth": "1990-05-01"}
    refused = book(agent, details_url, **young)
    assert refused.status_code == 422
    page = text(refused)
    assert "The rules do not allow this booking" in page
    assert "from age 60" in page
    assert 'id="override_reason"' in page
    assert counters(app, slot) == (1, 0)

    too_short = book(agent, details_url, override_reason="ok", **young)
    assert too_short.status_code == 422
    assert "Write at least 10 characters" in text(too_short)
    assert 'aria-invalid="true"' in text(too_short)
    assert counters(app, slot) == (1, 0)
    assert audit_rows(app, "agent.eligibility_override") == []

    reason = "Clinician referral, Dr. Ames, immunocompromised"
    done = book(agent, details_url, override_reason=reason, **young)
    assert done.status_code == 303, text(done)[:2000]
    assert counters(app, slot) == (0, 1)
    reservation = _reservation(app, slot_id=slot)
    assert not reservation.eligibility_attested
    (override,) = audit_rows(app, "agent.eligibility_override")
    assert override.detail["reason"] == reason
    assert "date_of_birth" in override.detail["refused"]
    assert (override.actor_id, override.actor_role) == (ids["agent"], "agent")
    assert override.record_id == str(reservation.id)
    assert override.request_id
    (booked,) = audit_rows(app, "agent.book")
    assert booked.detail["override"] is True


def test_a_caller_outside_the_state_is_refused_until_overridden(app, ids, agent):
    details_url = hold(agent, ids["slots"][0]).headers["Location"]
    refused = book(agent, details_url, resident="no")
    assert refused.status_code == 422
    assert "live, work or study in Massachusetts" in text(refused)
    assert counters(app, ids["slots"][0]) == (1, 0)


def test_bad_input_on_the_booking_forms_shows_the_form_again(app, ids, agent):
    for query, field in (
        ({"zip": ""}, "Enter a ZIP code or a town."),
        ({"zip": "99999"}, "We do not know that ZIP code."),
        ({"zip": "02115", "radius_miles": "banana"}, "Enter a whole number"),
        ({"zip": "02115", "date": "2026-02-30"}, "That date does not exist."),
        ({"zip": "02115", "service": "smallpox"}, "Choose one of"),
    ):
        response = agent.get("/agent/", query_string=query)
        assert response.status_code == 422, query
        assert field in text(response), query
    slot = ids["slots"][0]
    details_url = hold(agent, slot).headers["Location"]
    for fields, message in (
        ({"phone": "", "email": "rosa@example.org"}, "Enter the caller&#39;s phone number"),
        ({"phone": "555"}, "Enter a 10-digit US phone number"),
        ({"date_of_birth": "1950/04/27"}, "Enter the date like"),
        ({"first_name": ""}, "Enter your first name."),
        ({"resident": None}, "choose yes or no"),
        ({"email": "not-an-email"}, "Enter an email address"),
    ):
        response = book(agent, details_url, **fields)
        assert response.status_code == 422, fields
        assert message in text(response), (fields, text(response)[:3000])
    assert counters(app, slot) == (1, 0)
    assert (
        agent.post("/agent/slots/999999/hold", data={"csrf_token": token(agent)}).status_code == 404
    )
    assert agent.get("/agent/holds/not-a-hold").status_code == 404


def test_a_full_time_and_an_expired_hold_say_so(app, ids, agent, later):
    slot = ids["slots"][1]
    for _ in range(5):
        assert hold(sign_in(app, "agent2", later()), slot).status_code == 303
    full = hold(agent, slot)
    assert full.status_code == 409
    assert "Every place at this time is taken" in text(full)
    details_url = hold(agent, ids["slots"][0]).headers["Location"]
    later(minutes=11)
    expired = book(agent, details_url)
    assert expired.status_code == 410
    assert "hold on this time ran out" in text(expired)
    assert counters(app, ids["slots"][0])[1] == 0


def test_a_new_hold_gives_the_agents_previous_one_back_and_release_works(app, ids, agent):
    first, second = ids["slots"]
    hold(agent, first)
    details_url = hold(agent, second).headers["Location"]
    assert counters(app, first) == (0, 0)
    assert counters(app, second) == (1, 0)
    released = agent.post(details_url + "/release", data={"csrf_token": token(agent)})
    assert released.status_code == 303
    assert counters(app, second) == (0, 0)
    assert [r.action for r in audit_rows(app, "agent.release_hold")] == ["agent.release_hold"]


def test_a_hold_belongs_to_the_agent_who_placed_it(app, ids, agent, clock):
    details_url = hold(agent, ids["slots"][0]).headers["Location"]
    other = sign_in(app, "agent2", clock())
    assert other.get(details_url).status_code == 404
    assert book(other, details_url).status_code == 404
    assert counters(app, ids["slots"][0]) == (1, 0)


def test_residents_and_clinic_staff_cannot_reach_the_console(app, ids, clock):
    paths = ["/agent/", "/agent/lookup", f"/agent/clinics/{ids['clinic']}", "/agent/holds/x"]
    resident = app.test_client()
    for path in paths:
        response = resident.get(path)
        assert response.status_code == 302, path
        assert "/staff/sign-in" in response.headers["Location"]
    staff = sign_in(app, "staff", clock())
    for path in paths:
        assert staff.get(path).status_code == 403, path
    refused = staff.post(f"/agent/slots/{ids['slots'][0]}/hold", data={"csrf_token": token(staff)})
    assert refused.status_code == 403
    assert counters(app, ids["slots"][0]) == (0, 0)
    admin = sign_in(app, "admin", clock())
    assert admin.get("/agent/").status_code == 200
    assert "2-1-1 console" in text(admin.get("/staff/"))
    assert "2-1-1 console" not in text(staff.get("/staff/"))


def test_agents_see_and_take_places_set_aside_for_phone_bookings(app, ids, agent, clock):
    from datetime import timedelta

    from booking.models import Slot

    slot = ids["slots"][0]
    with app.app_context():
        row = db.session.get(Slot, slot)
        row.phone_reserved = row.capacity
        row.phone_release_at = clock() + timedelta(days=2)
        db.session.commit()
    residents = app.test_client().get(f"/clinics/{ids['clinic']}")
    assert f"/slots/{slot}/hold" not in text(residents)
    found = agent.get("/agent/", query_string={"zip": "02115", "radius_miles": "10"})
    assert f"/agent/slots/{slot}/hold" in text(found)
    assert f"/agent/slots/{slot}/hold" in text(agent.get(f"/agent/clinics/{ids['clinic']}"))
    held = hold(agent, slot)
    assert book(agent, held.headers["Location"]).status_code == 303
    assert counters(app, slot) == (0, 1)
