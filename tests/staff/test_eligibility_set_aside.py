"""Eligibility rules managed by state admins, and capacity set aside for phone bookings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import Channel, EligibilityRule, Slot
from booking.services import eligibility, holds
from booking.services.errors import InvalidInput, SlotFull
from tests.staff.support import admin_client, sign_in
from tests.support import csrf_from, make_clinic, make_slot


def add_rule(session, now, **values):
    rule = EligibilityRule(active=True, created_at=now, state_residents_only=True, **values)
    session.add(rule)
    session.flush()
    return rule


def answers(age_years, today, service="rsv", condition=False, resident=True):
    born = date(today.year - age_years, 1, 1)
    return eligibility.Answers(service, born, resident, condition)


def test_defaults_apply_until_admins_configure_a_service(session, now):
    today = now.date()
    rules = eligibility.load_rules(session, today=today)
    eligibility.check(answers(70, today), today=today, rules=rules)
    with pytest.raises(InvalidInput) as young:
        eligibility.check(answers(40, today), today=today, rules=rules)
    assert "from age 60" in young.value.errors["date_of_birth"]


def test_phases_ages_conditions_and_start_dates(session, now):
    today = now.date()
    add_rule(
        session,
        now,
        service="rsv",
        phase="Phase 1: 75+",
        min_age_years=75,
        effective_from=today - timedelta(days=30),
    )
    add_rule(
        session,
        now,
        service="rsv",
        phase="Phase 2: 50-74 at risk",
        min_age_years=50,
        max_age_years=74,
        requires_condition=True,
        effective_from=today,
    )
    add_rule(
        session,
        now,
        service="rsv",
        phase="Phase 3: 50+",
        min_age_years=50,
        effective_from=today + timedelta(days=7),
    )
    rules = eligibility.load_rules(session, today=today)
    eligibility.check(answers(80, today), today=today, rules=rules)
    eligibility.check(answers(60, today, condition=True), today=today, rules=rules)
    with pytest.raises(InvalidInput) as no_condition:
        eligibility.check(answers(60, today), today=today, rules=rules)
    assert set(no_condition.value.errors) == {"has_condition"}
    with pytest.raises(InvalidInput) as outsider:
        eligibility.check(answers(80, today, resident=False), today=today, rules=rules)
    assert "resident" in outsider.value.errors
    # A week later phase 3 opens to everyone 50 and over.
    later = today + timedelta(days=7)
    eligibility.check(
        answers(60, later), today=later, rules=eligibility.load_rules(session, today=later)
    )


def test_a_service_whose_only_rule_starts_later_is_not_open(session, now):
    today = now.date()
    add_rule(
        session,
        now,
        service="flu",
        phase="Autumn",
        min_age_years=1,
        effective_from=today + timedelta(days=1),
    )
    with pytest.raises(InvalidInput, match="not opened yet"):
        eligibility.check(
            answers(40, today, service="flu"),
            today=today,
            rules=eligibility.load_rules(session, today=today),
        )


def test_the_waiting_room_applies_the_admins_rules(app, clock, accounts):
    admin = admin_client(app, clock)
    page = admin.get("/admin/eligibility").get_data(as_text=True)
    bad = admin.post(
        "/admin/eligibility",
        data={
            "service": "rsv",
            "phase": "",
            "min_age_years": "eighty",
            "effective_from": "2021-02-30",
            "csrf_token": csrf_from(page),
        },
    )
    assert bad.status_code == 422
    made = admin.post(
        "/admin/eligibility",
        data={
            "service": "rsv",
            "phase": "At risk, 50 and over",
            "min_age_years": "50",
            "requires_condition": "yes",
            "effective_from": clock().date().isoformat(),
            "csrf_token": csrf_from(page),
        },
    )
    assert made.status_code == 303
    app.config["QUEUE_MODE"] = "always"
    resident = app.test_client()
    form = resident.get("/waiting-room").get_data(as_text=True)
    data = {
        "service": "rsv",
        "date_of_birth": "1970-05-01",
        "resident": "yes",
        "csrf_token": csrf_from(form),
    }
    refused = resident.post("/waiting-room", data=data)
    assert refused.status_code == 422
    assert "higher risk" in refused.get_data(as_text=True)
    joined = resident.post("/waiting-room", data={**data, "has_condition": "yes"})
    assert joined.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(EligibilityRule.phase)) == "At risk, 50 and over"


def test_phone_set_aside_holds_back_places_from_online_booking_until_the_cutoff(session, now):
    clinic = make_clinic(session, now)
    slot = make_slot(session, clinic, now + timedelta(days=3), capacity=5)
    slot.phone_reserved = 2
    slot.phone_release_at = slot.starts_at - timedelta(hours=24)
    session.flush()
    assert slot.available_online(now) == 3
    for _ in range(3):
        holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    with pytest.raises(SlotFull):
        holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    # A 2-1-1 agent can still take the places set aside for phone callers.
    holds.place_hold(session, slot.id, now=now, hold_minutes=10_000, channel=Channel.AGENT)
    # After the cutoff the last place is open to everyone.
    after_cutoff = slot.phone_release_at + timedelta(minutes=1)
    session.execute(
        Slot.__table__.update().where(Slot.id == slot.id).values(held=4)
    )  # the three online holds are still live in this scenario
    holds.place_hold(session, slot.id, now=after_cutoff, hold_minutes=10)
    fresh = session.get(Slot, slot.id, populate_existing=True)
    assert fresh.held + fresh.booked == 5


def test_set_aside_form_and_clinic_isolation(app, clock, accounts):
    with app.app_context():
        clinic = make_clinic(db.session, clock())
        other = make_clinic(db.session, clock())
        day = (clock() + timedelta(days=2)).date()
        from datetime import datetime, time
        from zoneinfo import ZoneInfo

        start = datetime.combine(day, time(10), tzinfo=ZoneInfo("America/New_York"))
        slot = make_slot(db.session, clinic, start, capacity=10)
        db.session.commit()
        slot_id, clinic_id, other_id = slot.id, clinic.id, other.id
    admin = admin_client(app, clock)
    path = f"/admin/clinics/{clinic_id}/set-aside"
    csrf = csrf_from(admin.get(path).get_data(as_text=True))
    bad = admin.post(
        path, data={"day": "2021-02-30", "percent": "150", "cutoff_hours": "24", "csrf_token": csrf}
    )
    assert bad.status_code == 422
    done = admin.post(
        path,
        data={"day": day.isoformat(), "percent": "30", "cutoff_hours": "24", "csrf_token": csrf},
    )
    assert done.status_code == 200
    assert "Saved for 1 slot." in done.get_data(as_text=True)
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        assert slot.phone_reserved == 3
        assert slot.phone_release_at == slot.starts_at - timedelta(hours=24)
    slots = admin.get(f"/api/v1/clinics/{clinic_id}/slots?date={day.isoformat()}").json["slots"]
    assert slots[0]["available"] == 7
    # A clinic staff member (not a manager, and of another clinic) cannot use it.
    staff_client = app.test_client()
    sign_in(staff_client, "staff@example.org")
    assert staff_client.get(f"/admin/clinics/{other_id}/set-aside").status_code == 403
