"""Issue 17, step 2a: the rules and the one-admission rule, enforced by the booking services."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import EligibilityRule, Reservation, Slot, VaccineProduct
from booking.services import holds, moves, reservations
from booking.services.eligibility import EligibilityAnswers
from booking.services.errors import AdmissionNeeded, AdmissionSpent, Conflict, NotEligible
from tests.support import ANSWERS, make_clinic, make_slot, person

SECRET = "test-secret"


@pytest.fixture
def clinic(session, now):
    return make_clinic(session, now, services=["covid19", "flu", "rsv"])


def counters(session, slot_id):
    session.flush()
    slot = session.get(Slot, slot_id, populate_existing=True)
    return slot.held, slot.booked


def confirm(session, hold, who, now, **kw):
    kw.setdefault("answers", ANSWERS)
    kw.setdefault("admission_ticket", None)
    return reservations.confirm_hold(
        session, hold.hold_token, who, now=now, secret_key=SECRET, **kw
    )


def refused(session, hold, who, now, rule, **kw):
    """Confirm must raise NotEligible naming ``rule``, having released the hold."""
    held, booked = counters(session, hold.slot_id)
    with pytest.raises(NotEligible) as caught:
        confirm(session, hold, who, now, **kw)
    assert caught.value.rule == rule
    assert caught.value.keeps_work  # db.transaction commits the release
    assert counters(session, hold.slot_id) == (held - 1, booked)
    assert session.get(Reservation, hold.id).status == "cancelled"
    return caught.value


def test_rsv_for_someone_born_in_2001_is_refused_and_the_hold_released(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1), service="rsv")
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    assert counters(session, slot.id) == (1, 0)
    young = person(1, date_of_birth=date(2001, 5, 1))
    error = refused(session, hold, young, now, "product_age")
    assert "Arexvy" in error.errors["date_of_birth"]  # the product's own ages, by name


def test_age_is_counted_on_the_appointment_date_in_the_clinic_zone(session, clinic, now):
    # 60 on the appointment's local date (an evening in Boston, the next day in UTC).
    starts = now.replace(hour=23, minute=30) + timedelta(days=3)  # 18:30 in Boston
    slot = make_slot(session, clinic, starts, service="rsv")
    local_day = date(2026, 3, 5)
    sixty_that_day = person(2, date_of_birth=local_day.replace(year=1966))
    sixty_next_day = person(3, date_of_birth=(local_day + timedelta(days=1)).replace(year=1966))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    refused(session, hold, sixty_next_day, now, "product_age")
    again = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    assert confirm(session, again, sixty_that_day, now).reservation.status == "confirmed"


def test_residency_condition_and_phase_are_named(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1))
    session.add(
        EligibilityRule(service="covid19", phase="1b", min_age_years=16, requires_condition=True,
                        state_residents_only=True, effective_from=now.date(), created_at=now)
    )  # fmt: skip
    session.flush()
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    refused(session, hold, person(4), now, "residency", answers=EligibilityAnswers(False, True))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    refused(session, hold, person(5), now, "condition", answers=EligibilityAnswers(True, False))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    done = confirm(session, hold, person(6), now, answers=EligibilityAnswers(True, True))
    assert done.overridden is None
    # A phase that opens tomorrow: nobody today, whatever they answer.
    session.execute(
        EligibilityRule.__table__.update().values(effective_from=now.date() + timedelta(days=1))
    )
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    refused(session, hold, person(7), now, "phase", answers=EligibilityAnswers(True, True))


def test_an_agent_override_books_and_reports_what_it_overrode(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1), service="rsv")
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    young = person(8, date_of_birth=date(1990, 1, 1))
    # Too short a reason is no override: refused, released.
    hold2 = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    refused(session, hold2, young, now, "product_age", override_reason="because")
    done = confirm(session, hold, young, now, override_reason="Clinician referral, letter seen")
    assert done.overridden is not None and done.overridden.rule == "product_age"
    assert counters(session, slot.id) == (0, 1)


def test_place_hold_with_a_birth_date_refuses_before_taking_a_place(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1), service="rsv")
    with pytest.raises(NotEligible) as caught:
        holds.place_hold(session, slot.id, now=now, hold_minutes=10, date_of_birth=date(1996, 1, 1))
    assert caught.value.rule == "product_age"
    assert counters(session, slot.id) == (0, 0)
    ok = holds.place_hold(
        session, slot.id, now=now, hold_minutes=10, date_of_birth=date(1950, 1, 1)
    )
    assert ok.status == "held"


def test_product_ages_apply_within_a_service(session, clinic, now):
    high_dose = session.scalars(
        select(VaccineProduct).where(VaccineProduct.key == "fluzone-high-dose-flu")
    ).one()
    slot = make_slot(
        session, clinic, now + timedelta(days=1), service="flu", product_id=high_dose.id
    )
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    refused(session, hold, person(9, date_of_birth=date(1990, 1, 1)), now, "product_age")


def test_one_admission_one_booking(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1), capacity=5)
    first = holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="t1")
    confirm(session, first, person(10), now, admission_ticket="t1")
    with pytest.raises(AdmissionSpent):
        holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="t1")
    assert counters(session, slot.id) == (0, 1)
    # A cancelled booking stays spent.
    reservations.cancel_reservation(session, first.id, now=now)
    with pytest.raises(AdmissionSpent):
        holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="t1")


def test_a_hold_is_confirmed_only_under_its_own_admission(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1))
    hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="mine")
    with pytest.raises(Conflict):
        confirm(session, hold, person(11), now, admission_ticket="theirs")
    # Refused without touching it: another client cannot release someone's hold either.
    assert counters(session, slot.id) == (1, 0)
    assert confirm(session, hold, person(11), now, admission_ticket="mine").reservation.id


def test_the_index_refuses_a_second_booking_under_one_admission(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1), capacity=5)
    a = holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="t2")
    confirm(session, a, person(12), now, admission_ticket="t2")
    # A hold that was placed before (as if by a racing request) with the same ticket.
    b = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    b.admission_ticket = "t2"
    session.flush()
    with pytest.raises(AdmissionSpent) as caught:
        confirm(session, b, person(13), now, admission_ticket="t2")
    assert caught.value.keeps_work
    assert counters(session, slot.id) == (0, 1)


def test_companion_once_same_clinic_and_day_never_a_third(session, clinic, now):
    slot = make_slot(session, clinic, now + timedelta(days=1), capacity=5)
    other_day = make_slot(session, clinic, now + timedelta(days=2), capacity=5)
    a = holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="t3")
    confirm(session, a, person(14), now, admission_ticket="t3")
    # Not allowed by the state: spent.
    with pytest.raises(AdmissionSpent):
        holds.place_hold(session, slot.id, now=now, hold_minutes=10, admission_ticket="t3")
    far = holds.place_hold(
        session, other_day.id, now=now, hold_minutes=10, admission_ticket="t3",
        companion_allowed=True,
    )  # fmt: skip
    with pytest.raises(Exception) as wrong_day:
        confirm(session, far, person(15), now, admission_ticket="t3", companion=True)
    assert "same day" in str(wrong_day.value)
    b = holds.place_hold(
        session, slot.id, now=now, hold_minutes=10, admission_ticket="t3", companion_allowed=True
    )
    done = confirm(session, b, person(15), now, admission_ticket="t3", companion=True)
    assert done.reservation.companion is True
    with pytest.raises(AdmissionSpent):
        holds.place_hold(
            session, slot.id, now=now, hold_minutes=10, admission_ticket="t3",
            companion_allowed=True,
        )  # fmt: skip


def test_reschedule_checks_the_new_place(session, clinic, now):
    other = make_clinic(session, now, services=["covid19"])
    here = make_slot(session, clinic, now + timedelta(days=1), capacity=5)
    later_here = make_slot(session, clinic, now + timedelta(days=2), capacity=5)
    there = make_slot(session, other, now + timedelta(days=2), capacity=5)
    hold = holds.place_hold(session, here.id, now=now, hold_minutes=10)
    booked = confirm(session, hold, person(16), now).reservation
    with pytest.raises(AdmissionNeeded):
        moves.reschedule_reservation(session, booked.id, there.id, now=now, require_admission=True)
    # Within the clinic: no admission needed.
    moves.reschedule_reservation(session, booked.id, later_here.id, now=now, require_admission=True)
    moved = moves.reschedule_reservation(
        session, booked.id, there.id, now=now, require_admission=True, admission_ticket="t9"
    )
    assert moved.clinic_id == other.id


def test_a_move_to_another_clinic_spends_its_admission(session, clinic, now):
    other = make_clinic(session, now, services=["covid19"])
    here = make_slot(session, clinic, now + timedelta(days=1), capacity=5)
    there = make_slot(session, other, now + timedelta(days=2), capacity=5)
    back = make_slot(session, clinic, now + timedelta(days=3), capacity=5)
    first = confirm(session, holds.place_hold(session, here.id, now=now, hold_minutes=10),
                    person(20), now).reservation  # fmt: skip
    second = confirm(session, holds.place_hold(session, here.id, now=now, hold_minutes=10),
                     person(21), now).reservation  # fmt: skip
    moved = moves.reschedule_reservation(
        session, first.id, there.id, now=now, require_admission=True, admission_ticket="t-move"
    )
    assert moved.admission_ticket == "t-move"
    # The admission that moved one booking moves no other, and books nobody new.
    with pytest.raises(AdmissionSpent):
        moves.reschedule_reservation(
            session, second.id, there.id, now=now, require_admission=True, admission_ticket="t-move"
        )
    assert session.get(Reservation, second.id).clinic_id == clinic.id
    with pytest.raises(AdmissionSpent):
        holds.place_hold(session, back.id, now=now, hold_minutes=10, admission_ticket="t-move")
    # An admission that already booked someone cannot move another booking elsewhere either.
    booked = confirm(
        session,
        holds.place_hold(session, back.id, now=now, hold_minutes=10, admission_ticket="t-book"),
        person(23),
        now,
        admission_ticket="t-book",
    ).reservation
    with pytest.raises(AdmissionSpent):
        moves.reschedule_reservation(
            session, second.id, there.id, now=now, require_admission=True, admission_ticket="t-book"
        )
    assert booked.admission_ticket == "t-book"
    assert session.get(Reservation, second.id).admission_ticket is None


def test_reschedule_refuses_a_product_the_person_is_too_young_for(session, clinic, now):
    standard = make_slot(session, clinic, now + timedelta(days=1), service="flu")
    high_dose = session.scalars(
        select(VaccineProduct).where(VaccineProduct.key == "fluzone-high-dose-flu")
    ).one()
    later = make_slot(
        session, clinic, now + timedelta(days=2), service="flu", product_id=high_dose.id
    )
    hold = holds.place_hold(session, standard.id, now=now, hold_minutes=10)
    teen = person(17, date_of_birth=date(2010, 1, 1))  # 16: standard flu vaccine, not high-dose
    booked = confirm(session, hold, teen, now).reservation
    with pytest.raises(NotEligible) as caught:
        moves.reschedule_reservation(session, booked.id, later.id, now=now)
    assert caught.value.rule == "product_age"
    assert counters(session, later.id) == (0, 0)
    assert counters(session, standard.id) == (0, 1)


def test_a_refused_confirm_commits_its_release_through_db_transaction(committed, now):
    live = committed()
    with live.app_context():
        clinic = make_clinic(db.session, now, services=["rsv"])
        slot = make_slot(db.session, clinic, now + timedelta(days=1), service="rsv")
        hold = holds.place_hold(db.session, slot.id, now=now, hold_minutes=10)
        db.session.commit()
        slot_id, token = slot.id, hold.hold_token
        young = person(18, date_of_birth=date(2001, 1, 1))
        with pytest.raises(NotEligible):
            db.transaction(
                lambda s: reservations.confirm_hold(
                    s, token, young, answers=ANSWERS, admission_ticket=None, now=now,
                    secret_key=SECRET,
                )
            )  # fmt: skip
        db.session.close()
        fresh = db.session.get(Slot, slot_id)
        assert (fresh.held, fresh.booked) == (0, 0)  # committed, seen by a new session
