"""The preregistration rules, at the service (every channel goes through it) and in the database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from booking.models import EligibilityRule, Preregistration
from booking.services import holds, preregistration, reservations
from booking.services.errors import AlreadyBooked, Conflict, InvalidInput, NotFound
from tests.preregistration.support import signup
from tests.support import ANSWERS, make_clinic, make_slot, person, refuse

SECRET = "prereg-secret"


def test_register_puts_the_person_in_the_default_group_and_signs_a_link(session, now):
    prereg = preregistration.register(session, signup(), now=now, channel="online")
    assert (prereg.status, prereg.priority_group, prereg.priority_rank) == (
        "waiting",
        "Everyone",
        0,
    )
    assert prereg.zip_code == "02115" and prereg.latitude == pytest.approx(42.34, abs=0.05)
    token = preregistration.status_token(SECRET, prereg)
    assert preregistration.find_by_token(session, SECRET, token).id == prereg.id
    mac = token.split(".")[1]
    forged = f"{prereg.id}.{mac[:10]}{'B' if mac[10] != 'B' else 'C'}{mac[11:]}"
    for bad in (forged, f"{prereg.id + 1}.{token.split('.')[1]}", "x", None, 7, f"{token}\x00"):
        with pytest.raises(NotFound):
            preregistration.find_by_token(session, SECRET, bad)
    with pytest.raises(NotFound):
        preregistration.find_by_token(session, "another-secret", token)


def test_a_town_is_a_place_to_travel_from_and_another_states_zip_is_not(session, now):
    prereg = preregistration.register(session, signup(zip="Worcester"), now=now, channel="online")
    assert prereg.zip_code.startswith("016") and prereg.latitude == pytest.approx(42.27, abs=0.1)
    for place, words in (("10001", "NY"), ("Wocester", "Did you mean"), ("123", "5-digit")):
        with pytest.raises(InvalidInput) as refused:
            preregistration.register(session, signup(1, zip=place), now=now, channel="online")
        assert words in str(refused.value.errors["zip"]), place


def test_priority_group_is_the_first_phase_in_opening_order(session, now):
    for phase, low, opened in (("Phase 1: 75 and over", 75, 1), ("Phase 2: 65 and over", 65, 2)):
        session.add(
            EligibilityRule(
                service="covid19",
                phase=phase,
                min_age_years=low,
                effective_from=now.date() - timedelta(days=10 - opened),
                created_at=now,
            )
        )
    session.flush()
    old = preregistration.register(
        session, signup(1, date_of_birth="1940-01-01"), now=now, channel="online"
    )
    younger = preregistration.register(
        session, signup(2, date_of_birth="1958-01-01"), now=now, channel="online"
    )
    assert (old.priority_rank, old.priority_group) == (0, "Phase 1: 75 and over")
    assert (younger.priority_rank, younger.priority_group) == (1, "Phase 2: 65 and over")
    with pytest.raises(InvalidInput) as refused:
        preregistration.register(
            session, signup(3, date_of_birth="1990-01-01"), now=now, channel="online"
        )
    assert "date_of_birth" in refused.value.errors


def test_every_problem_is_named_at_once(session, now):
    bad = signup(
        zip="00000",
        travel_miles="500",
        language="xx",
        consent="",
        resident="maybe",
        product_id="999999",
        first_name="Ro\x00bin",
        accessibility="a\x00b",
    )
    with pytest.raises(InvalidInput) as refused:
        preregistration.register(session, bad, now=now, channel="online")
    assert set(refused.value.errors) >= {
        "zip",
        "travel_miles",
        "language",
        "consent",
        "resident",
        "product_id",
        "first_name",
        "accessibility",
    }
    assert session.query(Preregistration).count() == 0


def test_a_callback_number_only_through_the_console(session, now):
    caller = signup(phone="", email="", callback_phone="617-555-0199")
    with pytest.raises(InvalidInput) as refused:
        preregistration.register(session, caller, now=now, channel="online")
    assert "phone" in refused.value.errors
    prereg = preregistration.register(session, caller, now=now, channel="agent")
    assert (prereg.phone, prereg.email, prereg.callback_phone) == (None, None, "+16175550199")


def test_one_active_preregistration_per_person_whatever_the_spelling(session, now):
    preregistration.register(session, signup(first_name="José"), now=now, channel="online")
    with pytest.raises(Conflict):
        preregistration.register(
            session, signup(first_name="jose", phone="6175550100"), now=now, channel="api"
        )


def test_withdrawn_frees_the_person_to_register_again_and_is_idempotent(session, now):
    first = preregistration.register(session, signup(), now=now, channel="online")
    preregistration.withdraw(session, first.id, now=now)
    assert preregistration.withdraw(session, first.id, now=now).closed_at == now
    with pytest.raises(Conflict):
        preregistration.update_details(session, first.id, signup(), now=now)
    second = preregistration.register(session, signup(), now=now, channel="online")
    assert second.id != first.id


def test_a_person_already_booked_is_refused(session, now):
    slot = make_slot(session, make_clinic(session, now), now + timedelta(days=1))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    booked = person(0, first_name="Robinaa", last_name="Waiting", date_of_birth=date(1950, 4, 27))
    reservations.confirm_hold(
        session,
        hold.hold_token,
        booked,
        now=now,
        secret_key=SECRET,
        answers=ANSWERS,
        admission_ticket=None,
    )
    with pytest.raises(AlreadyBooked):
        preregistration.register(session, signup(0), now=now, channel="online")


def test_update_changes_details_but_not_who_or_which_group(session, now):
    prereg = preregistration.register(session, signup(), now=now, channel="online")
    changed = preregistration.update_details(
        session,
        prereg.id,
        signup(
            zip="01602",
            travel_miles="25",
            language="es",
            phone="",
            email="r@example.org",
            first_name="Mallory",
            date_of_birth="1999-01-01",
        ),
        now=now,
    )
    assert (changed.zip_code, changed.travel_miles, changed.locale) == ("01602", 25, "es")
    assert (changed.phone, changed.email, changed.first_name) == (None, "r@example.org", "Robinaa")
    with pytest.raises(InvalidInput) as refused:
        preregistration.update_details(session, prereg.id, signup(phone="", email=""), now=now)
    assert "phone" in refused.value.errors


def test_retention_deletes_closed_ones_after_the_set_time_only(session, now):
    kept = preregistration.register(session, signup(1), now=now, channel="online")
    gone = preregistration.register(session, signup(2), now=now, channel="online")
    preregistration.withdraw(session, gone.id, now=now - timedelta(days=31))
    recent = preregistration.register(session, signup(3), now=now, channel="online")
    preregistration.withdraw(session, recent.id, now=now - timedelta(days=29))
    session.flush()
    assert preregistration.purge(session, now=now, retention_days=30) == 1
    left = {p.id for p in session.query(Preregistration)}
    assert left == {kept.id, recent.id}


def test_vaccinated_people_are_closed_then_deleted(session, now):
    prereg = preregistration.register(session, signup(0), now=now, channel="online")
    slot = make_slot(session, make_clinic(session, now), now + timedelta(hours=1))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    booked = person(0, first_name="Robinaa", last_name="Waiting", date_of_birth=date(1950, 4, 27))
    done = reservations.confirm_hold(
        session,
        hold.hold_token,
        booked,
        now=now,
        secret_key=SECRET,
        answers=ANSWERS,
        admission_ticket=None,
    )
    session.execute(
        text("UPDATE reservation SET status = 'checked_in' WHERE id = :id"),
        {"id": done.reservation.id},
    )
    assert preregistration.purge(session, now=now, retention_days=30) == 0
    session.refresh(prereg)
    assert (prereg.status, prereg.closed_at) == ("vaccinated", now)
    assert preregistration.purge(session, now=now + timedelta(days=31), retention_days=30) == 1


def test_the_database_refuses_a_second_active_row_and_an_unreachable_person(session, now):
    prereg = preregistration.register(session, signup(), now=now, channel="online")
    columns = (
        "person_key, first_name, last_name, date_of_birth, service, zip_code, latitude, "
        "longitude, travel_miles, phone, locale, lives_or_works_in_state, has_condition, "
        "short_notice, priority_group, priority_rank, status, channel, token_nonce, created_at, "
        "updated_at"
    )
    values = (
        ":key, 'A', 'B', '1950-04-27', 'covid19', '02115', 42.3, -71.1, 10, :phone, 'en', "
        "true, false, false, 'Everyone', 0, 'waiting', 'online', 'n', :now, :now"
    )
    sql = f"INSERT INTO preregistration ({columns}) VALUES ({values})"
    refuse(
        session,
        sql,
        "uq_preregistration_person_key_active",
        "UNIQUE",
        key=prereg.person_key,
        phone="+16175550100",
        now=now,
    )
    refuse(
        session, sql, "ck_preregistration_reachable", key="other|x|1950-04-27", phone=None, now=now
    )
    refuse(
        session,
        "UPDATE preregistration SET status = 'withdrawn' WHERE id = :id",
        "ck_preregistration_closed_when_closed",
        id=prereg.id,
    )
    refuse(
        session,
        "UPDATE preregistration SET travel_miles = 0 WHERE id = :id",
        "ck_preregistration_travel_miles_range",
        id=prereg.id,
    )
