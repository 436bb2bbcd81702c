"""The 2-1-1 console's look-ups, cancel, reschedule and the confirmation text, all audited."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from booking.db import db
from booking.models import Channel, Clinic, OutboxMessage, Reservation, VaccineProduct
from booking.services import holds, reservations
from booking.services.agent import NOT_FOUND
from tests.staff.agent_support import audit_rows, counters, rows, sign_in, text, token
from tests.support import ANSWERS, make_clinic, make_slot, person

NOT_FOUND_HTML = NOT_FOUND.replace("'", "&#39;")


def booked(app, clock, slot_id, **who):
    """Book a slot for someone (online, as a resident would); return (id, code)."""
    with app.app_context():
        s = db.session
        held = holds.place_hold(s, slot_id, now=clock(), hold_minutes=10)
        who = {"date_of_birth": date(1950, 4, 27), **who}
        resident = person(first_name="José", last_name="O'Neil", phone="+16175550123", **who)
        done = reservations.confirm_hold(
            s,
            held.hold_token,
            resident,
            now=clock(),
            secret_key="k",
            channel=Channel.ONLINE,
            answers=ANSWERS,
            admission_ticket=None,
        )
        s.commit()
        return done.reservation.id, done.reservation.confirmation_code


def by_code(client, code, dob, **headers):
    data = {"by": "code", "code": code, "dob": dob, "csrf_token": token(client)}
    return client.post("/agent/lookup", data=data, headers=headers)


def by_person(client, first="jose", last="oneil", dob="1950-04-27", phone="617 555 0123"):
    data = {
        "by": "person",
        "first_name": first,
        "last_name": last,
        "person_dob": dob,
        "phone": phone,
        "csrf_token": token(client),
    }
    return client.post("/agent/lookup", data=data)


def test_look_up_by_code_and_date_of_birth_is_audited(app, ids, agent, clock):
    reservation_id, code = booked(app, clock, ids["slots"][0])
    assert agent.get(f"/agent/reservations/{reservation_id}").status_code == 404  # not found yet
    spoken = f"{code[:4].lower()} {code[4:].lower()}"
    found = by_code(agent, spoken, "04/27/1950")
    assert found.status_code == 303
    assert found.headers["Location"] == f"/agent/reservations/{reservation_id}"
    page = agent.get(found.headers["Location"], headers={"X-Request-ID": "lookup-view-01"})
    assert page.status_code == 200
    assert "José O&#39;Neil" in text(page)
    assert "(617) 555-0123" in text(page)
    (view,) = audit_rows(app, "agent.view_reservation")
    assert (view.actor_id, view.actor_role) == (ids["agent"], "agent")
    assert (view.record_type, view.record_id) == ("reservation", str(reservation_id))
    assert view.request_id == "lookup-view-01"
    assert view.detail == {"page": "reservation"}


def test_wrong_details_get_the_same_not_found_answer(app, ids, agent, clock):
    _reservation_id, code = booked(app, clock, ids["slots"][0])
    other = "22222222" if code != "22222222" else "33333333"
    for response in (
        by_code(agent, code, "1950-04-28"),
        by_code(agent, other, "1950-04-27"),
        by_code(agent, "not a code", "1950-04-27"),
        by_person(agent, dob="1950-04-28"),
        by_person(agent, phone="617-555-0199"),
        by_person(agent, first="Joseph"),
        by_person(agent, phone="12"),
    ):
        assert response.status_code == 404
        assert NOT_FOUND_HTML in text(response)
    assert audit_rows(app, "agent.view_reservation") == []


def test_look_up_by_name_date_of_birth_and_phone(app, ids, agent, clock):
    first, _ = booked(app, clock, ids["slots"][0])
    found = by_person(agent, first="JOSE", last="o'neil", phone="(617) 555-0123")
    assert found.status_code == 303
    assert found.headers["Location"] == f"/agent/reservations/{first}"
    # Two bookings (two vaccines): both listed, and each one seen is audited.
    second, _ = booked(app, clock, ids["flu_slot"])
    listed = by_person(agent)
    assert listed.status_code == 200
    page = text(listed)
    assert f"/agent/reservations/{first}" in page and f"/agent/reservations/{second}" in page
    seen = {row.record_id for row in audit_rows(app, "agent.view_reservation")}
    assert seen == {str(first), str(second)}


def test_bad_input_on_the_look_up_forms(app, ids, agent):
    for data, message in (
        ({"by": "code", "code": "", "dob": ""}, "Enter the confirmation code."),
        ({"by": "code", "code": "ABCD2345", "dob": "yesterday"}, "Enter the date like"),
        ({"by": "code", "code": "ABCD2345", "dob": "2999-01-01"}, "Must be in the past."),
        ({"by": "person", "first_name": "Jo"}, "Enter the phone number."),
        ({"by": "somehow"}, "Choose how to look the booking up."),
    ):
        response = agent.post("/agent/lookup", data={**data, "csrf_token": token(agent)})
        assert response.status_code == 422, data
        assert message in text(response), data
    assert agent.post("/agent/lookup", data={"by": "code"}).status_code == 400  # no CSRF token


def test_cancel_for_the_caller(app, ids, agent, clock):
    slot = ids["slots"][0]
    reservation_id, code = booked(app, clock, slot)
    by_code(agent, code, "1950-04-27")
    url = f"/agent/reservations/{reservation_id}/cancel"
    unconfirmed = agent.post(url, data={"csrf_token": token(agent)})
    assert unconfirmed.status_code == 422
    assert "Check that the caller wants to cancel first." in text(unconfirmed)
    assert counters(app, slot) == (0, 1)
    done = agent.post(
        url,
        data={"caller_confirmed": "1", "csrf_token": token(agent)},
        headers={"X-Request-ID": "cancel-req-01"},
    )
    assert done.status_code == 303
    assert counters(app, slot) == (0, 0)
    (row,) = rows(app, Reservation, id=reservation_id)
    assert row.status == "cancelled"
    notices = rows(app, OutboxMessage, reservation_id=reservation_id, kind="cancellation")
    assert [m.channel for m in notices] == ["sms"]
    (entry,) = audit_rows(app, "agent.cancel")
    assert (entry.actor_id, entry.actor_role, entry.record_id) == (
        ids["agent"],
        "agent",
        str(reservation_id),
    )
    assert entry.request_id == "cancel-req-01"
    assert "Cancelled." in text(agent.get(done.headers["Location"]))


def test_reschedule_for_the_caller(app, ids, agent, clock):
    old, new = ids["slots"]
    reservation_id, code = booked(app, clock, old)
    by_code(agent, code, "1950-04-27")
    url = f"/agent/reservations/{reservation_id}/reschedule"
    page = agent.get(url, query_string={"date": "2026-03-03"})
    assert page.status_code == 200
    assert f'name="slot_id" value="{new}"' in text(page)
    assert f'name="slot_id" value="{old}"' not in text(page)
    for bad, status in (("x", 422), ("999999", 404), (str(old), 422)):
        refused = agent.post(url, data={"slot_id": bad, "csrf_token": token(agent)})
        assert refused.status_code == status, bad
        assert 'class="error-summary"' in text(refused)
    wrong_vaccine = agent.post(url, data={"slot_id": ids["flu_slot"], "csrf_token": token(agent)})
    assert wrong_vaccine.status_code == 422
    assert "same vaccine" in text(wrong_vaccine)
    assert counters(app, old) == (0, 1)
    moved = agent.post(
        url,
        data={"slot_id": new, "csrf_token": token(agent)},
        headers={"X-Request-ID": "move-0001"},
    )
    assert moved.status_code == 303
    assert counters(app, old) == (0, 0)
    assert counters(app, new) == (0, 1)
    (entry,) = audit_rows(app, "agent.reschedule")
    assert entry.detail == {"from_slot_id": old, "to_slot_id": new, "override": False}
    assert (entry.actor_role, entry.record_id, entry.request_id) == (
        "agent",
        str(reservation_id),
        "move-0001",
    )
    views = [r.detail["page"] for r in audit_rows(app, "agent.view_reservation")]
    assert "reschedule" in views


def test_a_failed_confirmation_text_can_be_sent_again(app, ids, agent, clock):
    reservation_id, code = booked(app, clock, ids["slots"][0])
    by_code(agent, code, "1950-04-27")
    url = f"/agent/reservations/{reservation_id}/sms"
    not_failed = agent.post(url, data={"csrf_token": token(agent)})
    assert not_failed.status_code == 409  # queued: it goes out by itself, nothing to re-send
    with app.app_context():
        (message,) = [
            m
            for m in db.session.query(OutboxMessage).filter_by(reservation_id=reservation_id)
            if m.kind == "confirmation" and m.channel == "sms"
        ]
        message.status = "failed"
        message.attempts = 8
        db.session.commit()
        message_id = message.id
    page = agent.get(f"/agent/reservations/{reservation_id}")
    assert "Send by SMS again" in text(page)
    resent = agent.post(url, data={"csrf_token": token(agent)})
    assert resent.status_code == 303
    (message,) = rows(app, OutboxMessage, id=message_id)
    assert (message.status, message.attempts) == ("queued", 0)
    (entry,) = audit_rows(app, "agent.resend_sms")
    assert entry.detail == {"message_id": message_id}
    assert (entry.actor_id, entry.record_id) == (ids["agent"], str(reservation_id))


def test_clinic_staff_and_residents_cannot_open_bookings_here(app, ids, agent, clock):
    reservation_id, code = booked(app, clock, ids["slots"][0])
    staff = sign_in(app, "staff", clock())
    for path in (f"/agent/reservations/{reservation_id}", "/agent/lookup"):
        assert staff.get(path).status_code == 403
        assert app.test_client().get(path).status_code == 302
    refused = staff.post(
        f"/agent/reservations/{reservation_id}/cancel",
        data={"caller_confirmed": "1", "csrf_token": token(staff)},
    )
    assert refused.status_code == 403
    assert counters(app, ids["slots"][0]) == (0, 1)
    admin = sign_in(app, "admin", clock())
    found = by_code(admin, code, "1950-04-27")
    assert found.status_code == 303
    assert admin.get(found.headers["Location"]).status_code == 200
    (view,) = audit_rows(app, "agent.view_reservation")
    assert (view.actor_id, view.actor_role) == (ids["admin"], "state_admin")


def test_lookups_are_limited_per_agent_not_per_shared_address(app, ids, clock):
    app.config["AGENT_LOOKUP_RATE_LIMIT"] = "3 per minute"
    first, second = sign_in(app, "agent", clock()), sign_in(app, "agent2", clock())
    statuses = [by_code(first, "ZZZZZZZZ", "1950-04-27").status_code for _ in range(4)]
    assert statuses[:3] == [statuses[0]] * 3 and statuses[0] != 429
    assert statuses[3] == 429
    # Another agent at the same call-center address still has a bucket of their own.
    assert by_code(second, "ZZZZZZZZ", "1950-04-27").status_code != 429


def test_a_move_the_rules_refuse_needs_an_agents_written_reason(app, ids, agent, clock):
    # A 16-year-old booked for the standard flu vaccine; the high-dose one is for 65 and over.
    with app.app_context():
        s = db.session
        clinic = s.get(Clinic, ids["clinic"])
        high_dose = s.scalars(
            select(VaccineProduct).where(VaccineProduct.key == "fluzone-high-dose-flu")
        ).one()
        target = make_slot(
            s, clinic, clock() + timedelta(days=2), service="flu", product_id=high_dose.id
        ).id
        s.commit()
    reservation_id, code = booked(app, clock, ids["flu_slot"], date_of_birth=date(2010, 1, 1))
    by_code(agent, code, "2010-01-01")
    url = f"/agent/reservations/{reservation_id}/reschedule"
    refused = agent.post(url, data={"slot_id": target, "csrf_token": token(agent)})
    assert refused.status_code == 422
    page = text(refused)
    assert "The rules do not allow this move" in page and 'name="override_reason"' in page
    assert counters(app, target) == (0, 0)
    short = agent.post(
        url, data={"slot_id": target, "override_reason": "ok", "csrf_token": token(agent)}
    )
    assert short.status_code == 422 and 'id="override_reason-error"' in text(short)
    assert counters(app, target) == (0, 0)
    assert audit_rows(app, "agent.eligibility_override") == []
    reason = "Clinician approved the high-dose vaccine by phone"
    moved = agent.post(
        url, data={"slot_id": target, "override_reason": reason, "csrf_token": token(agent)}
    )
    assert moved.status_code == 303
    assert counters(app, target) == (0, 1) and counters(app, ids["flu_slot"]) == (0, 0)
    (override,) = audit_rows(app, "agent.eligibility_override")
    assert override.detail["reason"] == reason and override.detail["rule"] == "product_age"
    (entry,) = audit_rows(app, "agent.reschedule")
    assert entry.detail["override"] is True


def test_the_booking_page_reads_well_to_a_caller(app, ids, agent, clock):
    # The caller has a COVID-19 and a flu booking: each page shows the other, and the messages.
    covid_id, code = booked(app, clock, ids["slots"][0])
    flu_id, flu_code = booked(app, clock, ids["flu_slot"])
    by_code(agent, code, "1950-04-27")
    page = text(agent.get(f"/agent/reservations/{covid_id}"))
    assert "born April 27, 1950 (age 75)" in page and "1950-04-27" not in page
    assert "(617) 555-0123" in page and "+16175550123" not in page
    assert "other bookings" in page and f"{flu_code[:4]}-{flu_code[4:]}" in page
    assert f"/agent/reservations/{flu_id}" in page
    assert "Messages to the caller" in page and "Confirmation" in page
    assert "Waiting to be sent" in page and "Text message" in page
    # The caller's pages carry no "call 2-1-1" line: the agent is the one answering it.
    assert "Prefer to book by phone?" not in page


def test_a_caller_is_moved_to_another_clinic_nearby(app, ids, agent, clock):
    with app.app_context():
        other = make_clinic(db.session, clock(), name="Roxbury Health Center", latitude=42.33)
        target = make_slot(db.session, other, clock() + timedelta(days=2)).id
        other_id = other.id
        db.session.commit()
    reservation_id, code = booked(app, clock, ids["slots"][0])
    by_code(agent, code, "1950-04-27")
    url = f"/agent/reservations/{reservation_id}/reschedule"
    page = text(agent.get(url))
    assert f'<option value="{other_id}">Roxbury Health Center' in page
    there = text(agent.get(url, query_string={"clinic": other_id, "date": "2026-03-04"}))
    assert (
        f'name="clinic" value="{other_id}"' in there and f'name="slot_id" value="{target}"' in there
    )
    assert f"clinic={other_id}#times-heading" in there  # the day links stay on that clinic
    # A clinic id that is not a clinic, or offers another vaccine, shows the booking's own.
    for hostile in ("999999", "abc", "\x00", str(other_id) + "0"):
        shown = text(agent.get(url, query_string={"clinic": hostile, "date": "2026-03-04"}))
        assert f'value="{target}"' not in shown and 'name="clinic" value=' not in shown
    moved = agent.post(
        url, data={"slot_id": target, "clinic": other_id, "csrf_token": token(agent)}
    )
    assert moved.status_code == 303
    with app.app_context():
        assert db.session.get(Reservation, reservation_id).clinic_id == other_id
    assert counters(app, target) == (0, 1) and counters(app, ids["slots"][0]) == (0, 0)
