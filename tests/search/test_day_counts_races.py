"""The counts in a crowd (PostgreSQL): holds at one clinic-day do not wait on one another's
counter, folds run beside them, and the counts stay exact.

These tests really commit (``committed``), on separate connections.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from booking.db import db
from booking.models import Slot
from booking.services import day_counts, holds
from booking.services.errors import SlotFull
from booking.services.slot_counts import online_free
from tests.conftest import TEST_DATABASE_URL
from tests.support import Clock, make_clinic, make_slot, run_together

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="row locks are PostgreSQL's"),
]
THREADS = 18
SLOTS = 8


def one_day(app: Flask, clock: Clock, slots: int) -> tuple[int, list[int]]:
    """Commit a clinic with ``slots`` slots on one day; return its id and the slot ids."""
    with app.app_context():

        def work(session: Session) -> tuple[int, list[int]]:
            clinic = make_clinic(session, clock())
            start = clock() + timedelta(days=3)
            made = [
                make_slot(session, clinic, start + timedelta(minutes=10 * n), capacity=3)
                for n in range(slots)
            ]
            return clinic.id, [slot.id for slot in made]

        return db.transaction(work)


def exact(app: Flask, clock: Clock, clinic_id: int) -> tuple[dict[Any, int], dict[Any, int]]:
    """The counts' answer and the slots' answer for the clinic's days."""
    with app.app_context():
        session = db.session
        zone = ZoneInfo("America/New_York")
        rows = session.execute(
            select(Slot.starts_at, func.greatest(0, online_free(clock()))).where(
                Slot.clinic_id == clinic_id
            )
        ).all()
        scanned: dict[Any, int] = {}
        for starts_at, free in rows:
            key = (clinic_id, starts_at.astimezone(zone).date())
            scanned[key] = scanned.get(key, 0) + free
        days = sorted(day for _, day in scanned)
        counted = day_counts.free_by_day(session, [clinic_id], days[0], days[-1], now=clock())
        session.rollback()
        return counted, scanned


def test_holds_at_one_clinic_day_do_not_wait_on_each_other(committed: Callable[..., Flask], clock):
    app = committed()
    clinic_id, (first, second) = one_day(app, clock, 2)
    with app.app_context():
        engine = db.engine
    with Session(engine) as open_one, Session(engine) as other, Session(engine) as same_slot:
        holds.place_hold(open_one, first, now=clock(), hold_minutes=10)  # left uncommitted
        # Another slot of the same clinic-day: its delta row is appended, no row is shared.
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        holds.place_hold(other, second, now=clock(), hold_minutes=10)
        other.commit()
        # A fold beside the open transaction skips its invisible delta, waiting on nothing.
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        day_counts.fold(other)
        other.commit()
        # The control: the same slot's row is shared, so that one does wait (the test can fail).
        same_slot.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            holds.place_hold(same_slot, first, now=clock(), hold_minutes=10)
        same_slot.rollback()
        # Committed state on both sides: the open hold is in neither until it commits.
        counted, scanned = exact(app, clock, clinic_id)
        assert counted == scanned
        assert sum(scanned.values()) == 2 * 3 - 1
        open_one.commit()
    counted, scanned = exact(app, clock, clinic_id)
    assert counted == scanned
    assert sum(scanned.values()) == 2 * 3 - 2


def test_a_crowd_at_one_clinic_day_keeps_the_counts_exact(committed: Callable[..., Flask], clock):
    app = committed()  # its pool (20) serves every thread at once
    clinic_id, slots = one_day(app, clock, SLOTS)

    def hold_or_fold(i: int) -> str:
        with app.app_context():
            if i % 6 == 0:
                db.transaction(day_counts.fold)
                return "fold"
            try:
                db.transaction(
                    lambda s: holds.place_hold(s, slots[i % SLOTS], now=clock(), hold_minutes=10)
                )
            except SlotFull:
                return "full"
            return "held"

    outcomes = run_together(THREADS, hold_or_fold)
    counted, scanned = exact(app, clock, clinic_id)
    assert counted == scanned
    assert sum(scanned.values()) == SLOTS * 3 - outcomes.count("held")
    with app.app_context():
        db.transaction(day_counts.fold)
    assert exact(app, clock, clinic_id) == (scanned, scanned)
