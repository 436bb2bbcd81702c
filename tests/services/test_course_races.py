"""Many clients racing for the last places of a two-dose product: never dose 1 without dose 2.

Real threads on a committing app (``committed``), at READ COMMITTED and, on PostgreSQL,
REPEATABLE READ. Half the clients book a course (dose 1, dose 2 by default on the interval
day); the other half book "dose 2 only" straight into dose 2's slot, so both slots are fought
over at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from booking.db import db
from booking.models import Reservation, Slot
from tests.conftest import TEST_DATABASE_URL
from tests.support import (
    Clock,
    client_for,
    make_clinic,
    make_slot,
    person_json,
    run_together,
    two_dose_product,
)

pytestmark = pytest.mark.slow

THREADS = 60
FIRST_CAPACITY = 8
SECOND_CAPACITY = 5
BOSTON = ZoneInfo("America/New_York")


def course_slots(app: Flask, clock: Clock) -> tuple[int, int]:
    """Commit a clinic with a Pfizer dose-1 slot and the dose-2 slot 21 days later."""
    with app.app_context():

        def work(session: Any) -> tuple[int, int]:
            clinic = make_clinic(session, clock())
            pfizer = two_dose_product(session).id
            start = clock() + timedelta(days=2)
            local = start.astimezone(BOSTON).replace(tzinfo=None) + timedelta(days=21)
            due = local.replace(tzinfo=BOSTON).astimezone(UTC)
            first = make_slot(session, clinic, start, capacity=FIRST_CAPACITY, product_id=pfizer)
            second = make_slot(session, clinic, due, capacity=SECOND_CAPACITY, product_id=pfizer)
            return first.id, second.id

        return db.transaction(work)


def race(app: Flask, clock: Clock) -> None:
    first_id, second_id = course_slots(app, clock)
    today = clock().date().isoformat()

    def client(i: int) -> tuple[str, int]:
        http = client_for(app, i)
        course = i % 2 == 0
        held = http.post("/api/v1/holds", json={"slot_id": first_id if course else second_id})
        if held.status_code != 201:
            return ("hold", held.status_code)
        body = person_json(i)
        if not course:
            body["prior_dose_date"] = today
        done = http.post(f"/api/v1/holds/{held.get_json()['hold_id']}/confirm", json=body)
        assert done.status_code in (201, 409, 422), done.get_json()
        if done.status_code == 201 and course:
            assert done.get_json()["second_dose"]["slot_id"] == second_id
        return ("course" if course else "dose2", done.status_code)

    outcomes = Counter(run_together(THREADS, client))
    dose2 = aliased(Reservation)
    with app.app_context():
        session = db.session
        slots = {
            s.id: (s.held, s.booked)
            for s in session.scalars(select(Slot).where(Slot.id.in_([first_id, second_id])))
        }
        rows = session.execute(
            select(
                Reservation.slot_id, Reservation.dose_number, Reservation.status, func.count()
            ).group_by(Reservation.slot_id, Reservation.dose_number, Reservation.status)
        ).all()
        by = {(slot, dose, status): n for slot, dose, status, n in rows}
        orphans = session.scalar(
            select(func.count())
            .select_from(Reservation)
            .where(
                Reservation.dose_number == 1,
                Reservation.status == "confirmed",
                Reservation.slot_id == first_id,
                ~select(dose2.id)
                .where(dose2.course_id == Reservation.id, dose2.status == "confirmed")
                .exists(),
            )
        )
    courses = outcomes[("course", 201)]
    dose_two_only = outcomes[("dose2", 201)]
    # Dose 2's slot is full, never overfull, and every place in it is a booking or a hold.
    held2, booked2 = slots[second_id]
    assert booked2 == courses + dose_two_only
    assert held2 + booked2 <= SECOND_CAPACITY
    # Every course booked has its dose 2, and dose 1's slot counts exactly its bookings.
    assert by.get((first_id, 1, "confirmed"), 0) == courses
    assert by.get((second_id, 2, "confirmed"), 0) == booked2
    assert slots[first_id][1] == courses
    assert sum(slots[first_id]) <= FIRST_CAPACITY
    assert orphans == 0
    # The race was real: places ran out and some clients were refused.
    assert courses + dose_two_only <= SECOND_CAPACITY
    assert sum(n for (step, status), n in outcomes.items() if status != 201) > 0, outcomes


def test_a_crowd_on_the_last_places_of_a_course(committed: Callable[..., Flask], clock):
    race(committed(), clock)


def test_the_course_race_at_repeatable_read(committed: Callable[..., Flask], clock):
    if not TEST_DATABASE_URL:
        pytest.skip("REPEATABLE READ is tested on PostgreSQL (set FAIRSLOT_TEST_DATABASE_URL)")
    race(committed(DB_ISOLATION_LEVEL="REPEATABLE READ"), clock)
