"""Holds, confirmation, cancellation and rescheduling at the service level."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import Reservation, Slot
from booking.services import holds, moves, reservations, sweep
from booking.services.errors import (
    AlreadyBooked,
    Conflict,
    HoldExpired,
    NotFound,
    SlotFull,
    SlotUnavailable,
)
from tests.support import ANSWERS, make_clinic, make_slot, person

SECRET = "test-secret"


@pytest.fixture
def slot(session, now):
    clinic = make_clinic(session, now)
    return make_slot(session, clinic, now + timedelta(days=1), capacity=2)


def refresh(session, slot):
    session.flush()
    return session.get(Slot, slot.id, populate_existing=True)


def hold(session, slot, now, **kw):
    return holds.place_hold(session, slot.id, now=now, hold_minutes=10, **kw)


def test_hold_takes_a_place_and_full_slot_refuses(session, slot, now):
    first = hold(session, slot, now)
    hold(session, slot, now)
    assert first.status == "held"
    assert first.hold_expires_at == now + timedelta(minutes=10)
    assert len(first.hold_token) >= 32
    assert refresh(session, slot).held == 2
    with pytest.raises(SlotFull):
        hold(session, slot, now)
    assert refresh(session, slot).held == 2


def test_unknown_closed_and_past_slots(session, slot, now):
    with pytest.raises(NotFound):
        holds.place_hold(session, 999_999, now=now, hold_minutes=10)
    with pytest.raises(SlotUnavailable):
        holds.place_hold(session, slot.id, now=slot.starts_at, hold_minutes=10)
    slot.is_open = False
    session.flush()
    with pytest.raises(SlotUnavailable):
        hold(session, slot, now)


def test_expired_holds_are_released_lazily_so_the_slot_sells_out_exactly(session, slot, now):
    hold(session, slot, now)
    hold(session, slot, now)
    later = now + timedelta(minutes=11)
    third = holds.place_hold(session, slot.id, now=later, hold_minutes=10)
    assert third.status == "held"
    fresh = refresh(session, slot)
    assert fresh.held == 1  # both expired holds released, then the new one taken
    statuses = session.scalars(select(Reservation.status).where(Reservation.slot_id == slot.id))
    assert sorted(statuses) == ["expired", "expired", "held"]


def test_sweep_expires_and_returns_places(session, slot, now):
    hold(session, slot, now)
    assert sweep.release_expired_holds(session, now=now) == 0
    assert sweep.release_expired_holds(session, now=now + timedelta(minutes=10)) == 1
    assert refresh(session, slot).held == 0
    assert sweep.release_expired_holds(session, now=now + timedelta(minutes=20)) == 0


def test_release_hold_is_idempotent(session, slot, now):
    h = hold(session, slot, now)
    holds.release_hold(session, h.hold_token, now=now)
    holds.release_hold(session, h.hold_token, now=now)
    assert refresh(session, slot).held == 0
    with pytest.raises(NotFound):
        holds.release_hold(session, "no-such-hold-token", now=now)


def test_replacing_a_hold_gives_the_old_place_back(session, slot, now):
    other = make_slot(session, make_clinic(session, now), now + timedelta(days=2), capacity=1)
    h = hold(session, slot, now)
    moved = holds.place_hold(session, other.id, now=now, hold_minutes=10, replace_hold=h.hold_token)
    assert refresh(session, slot).held == 0
    assert refresh(session, other).held == 1
    assert moved.slot_id == other.id


def test_idempotency_key_replay_returns_the_same_hold(session, slot, now):
    a = hold(session, slot, now, request_key="key-1")
    b = hold(session, slot, now, request_key="key-1")
    assert a.id == b.id
    assert refresh(session, slot).held == 1
    other = make_slot(session, make_clinic(session, now), now + timedelta(days=2))
    with pytest.raises(Conflict):
        holds.place_hold(session, other.id, now=now, hold_minutes=10, request_key="key-1")


def test_a_replay_with_its_ticket_keeps_the_hold_and_a_new_request_replaces_it(session, slot, now):
    # The Idempotency-Key and the ticket's live holds are read in one query: the replay wins.
    a = hold(session, slot, now, request_key="key-1", admission_ticket="ticket-1")
    again = hold(session, slot, now, request_key="key-1", admission_ticket="ticket-1")
    assert again.id == a.id and again.status == "held"
    assert refresh(session, slot).held == 1
    b = hold(session, slot, now, request_key="key-2", admission_ticket="ticket-1")
    assert b.id != a.id
    assert session.get(Reservation, a.id, populate_existing=True).status == "cancelled"
    assert refresh(session, slot).held == 1


@pytest.mark.parametrize("field", ["request_key", "admission_ticket"])
def test_losing_the_insert_race_is_a_conflict_and_keeps_nothing(app, slot, now, field, monkeypatch):
    # The concurrent request's row is not visible to the lookup yet; the unique index refuses
    # the INSERT. No savepoint: the unit of work rolls back whole, the place taken with it.
    with app.app_context():
        hold(db.session, slot, now, **{field: "same"})
        db.session.commit()
        monkeypatch.setattr(holds, "_earlier_requests", lambda *_args: [])
        with pytest.raises(Conflict, match="in progress"):
            db.transaction(lambda s: hold(s, slot, now, **{field: "same"}))
        assert db.session.scalar(select(Slot.held).where(Slot.id == slot.id)) == 1
        assert db.session.scalar(select(func.count()).select_from(Reservation)) == 1


def confirm(session, h, p, now):
    return reservations.confirm_hold(
        session, h.hold_token, p, now=now, secret_key=SECRET, answers=ANSWERS, admission_ticket=None
    )


def test_confirm_moves_held_to_booked_and_is_idempotent(session, slot, now):
    h = hold(session, slot, now)
    done = confirm(session, h, person(1), now)
    assert done.reservation.status == "confirmed"
    assert len(done.reservation.confirmation_code) == 8
    assert len(done.manage_token) >= 22  # at least 128 bits, base64
    fresh = refresh(session, slot)
    assert (fresh.held, fresh.booked) == (0, 1)
    again = confirm(session, h, person(1), now + timedelta(seconds=5))
    assert again.replayed
    assert again.manage_token == done.manage_token
    assert again.reservation.confirmation_code == done.reservation.confirmation_code
    assert refresh(session, slot).booked == 1
    with pytest.raises(Conflict):
        confirm(session, h, person(2), now)


def test_a_confirmation_code_collision_is_retried_with_a_new_code(session, slot, now, monkeypatch):
    # Why confirming keeps its savepoint: a unique-index loss on the code is retried in place.
    first = confirm(session, hold(session, slot, now), person(1), now)
    codes = iter([first.reservation.confirmation_code, "23456789"])
    monkeypatch.setattr(reservations, "new_confirmation_code", lambda: next(codes))
    second = confirm(session, hold(session, slot, now), person(2), now)
    assert second.reservation.confirmation_code == "23456789"
    assert second.reservation.status == "confirmed"
    counted = refresh(session, slot)
    assert (counted.held, counted.booked) == (0, 2)


def test_confirming_an_expired_hold_answers_gone_and_changes_nothing(session, slot, now):
    h = hold(session, slot, now)
    with pytest.raises(HoldExpired):
        confirm(session, h, person(1), now + timedelta(minutes=10))
    fresh = refresh(session, slot)
    assert (fresh.held, fresh.booked) == (1, 0)


def test_second_booking_for_the_same_person_is_refused_and_keeps_the_hold(session, slot, now):
    other = make_slot(session, make_clinic(session, now), now + timedelta(days=3))
    confirm(session, hold(session, slot, now), person(1), now)
    second = hold(session, other, now)
    # Same person typed differently: accents, case and punctuation do not make a new person.
    p = person(1)
    variant = person(1, first_name=p.first_name.upper() + " ", last_name="Résident")
    with pytest.raises(AlreadyBooked):
        confirm(session, second, variant, now)
    fresh = refresh(session, other)
    assert (fresh.held, fresh.booked) == (1, 0)
    assert session.get(Reservation, second.id, populate_existing=True).status == "held"
    # A different service is fine.
    flu = make_slot(session, make_clinic(session, now), now + timedelta(days=3), service="flu")
    assert confirm(session, hold(session, flu, now), p, now).reservation.status == "confirmed"


def test_cancel_returns_capacity_and_is_idempotent(session, slot, now):
    done = confirm(session, hold(session, slot, now), person(1), now)
    reservations.cancel_reservation(session, done.reservation.id, now=now)
    reservations.cancel_reservation(session, done.reservation.id, now=now)
    fresh = refresh(session, slot)
    assert (fresh.held, fresh.booked) == (0, 0)
    # After cancelling, the person may book again.
    assert (
        confirm(session, hold(session, slot, now), person(1), now).reservation.status == "confirmed"
    )


def test_reschedule_takes_new_place_before_freeing_old(session, slot, now):
    target = make_slot(session, make_clinic(session, now), now + timedelta(days=4), capacity=1)
    done = confirm(session, hold(session, slot, now), person(1), now)
    moved = moves.reschedule_reservation(session, done.reservation.id, target.id, now=now)
    assert moved.slot_id == target.id
    assert refresh(session, slot).booked == 0
    assert refresh(session, target).booked == 1
    assert moved.confirmation_code == done.reservation.confirmation_code


def test_reschedule_into_a_full_slot_keeps_the_old_time(session, slot, now):
    full = make_slot(session, make_clinic(session, now), now + timedelta(days=4), capacity=1)
    confirm(session, hold(session, full, now), person(2), now)
    done = confirm(session, hold(session, slot, now), person(1), now)
    with pytest.raises(SlotFull):
        moves.reschedule_reservation(session, done.reservation.id, full.id, now=now)
    assert refresh(session, slot).booked == 1
    assert refresh(session, full).booked == 1


def test_lookup_by_code_needs_the_right_birth_date(session, slot, now):
    done = confirm(session, hold(session, slot, now), person(1), now)
    code = done.reservation.confirmation_code
    dob = person(1).date_of_birth
    found = reservations.find_by_code(session, f"{code[:4].lower()}-{code[4:]}", dob)
    assert found.id == done.reservation.id
    with pytest.raises(NotFound) as wrong_dob:
        reservations.find_by_code(session, code, dob + timedelta(days=1))
    with pytest.raises(NotFound) as unknown:
        reservations.find_by_code(session, "ZZZZZZZZ", dob)
    assert wrong_dob.value.detail == unknown.value.detail
    assert reservations.find_by_manage_token(session, done.manage_token).id == done.reservation.id


def test_counters_match_reservations(session, slot, now):
    confirm(session, hold(session, slot, now), person(1), now)
    hold(session, slot, now)
    live = session.scalar(
        select(func.count()).where(
            Reservation.slot_id == slot.id, Reservation.status.in_(["held", "confirmed"])
        )
    )
    fresh = refresh(session, slot)
    assert fresh.held + fresh.booked == live == 2
