"""A clinic with a two-dose product on dose 1's day and every day of dose 2's window."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.models import Slot
from booking.services import holds, reservations
from tests.support import ANSWERS, make_clinic, make_slot, person, two_dose_product

SECRET = "courses-test-secret"
BOSTON = ZoneInfo("America/New_York")
PFIZER_MIN, PFIZER_MAX = 21, 42


@pytest.fixture
def course(session, now):
    """A clinic with Pfizer slots on dose 1's day and on every day of dose 2's window."""
    clinic = make_clinic(session, now)
    pfizer = two_dose_product(session).id
    first = make_slot(session, clinic, now + timedelta(days=2), product_id=pfizer, capacity=2)
    seconds = {
        days: make_slot(session, clinic, wall_clock(first, days), product_id=pfizer, capacity=2)
        for days in range(PFIZER_MIN - 1, PFIZER_MAX + 2)
    }
    return clinic, first, seconds


def wall_clock(slot, days):
    """The same time of day in Boston ``days`` later (daylight saving starts on March 8)."""
    local = slot.starts_at.astimezone(BOSTON).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=BOSTON).astimezone(UTC)


def book(session, slot_id, now, n=1, **kwargs):
    hold = holds.place_hold(session, slot_id, now=now, hold_minutes=10)
    return reservations.confirm_hold(
        session,
        hold.hold_token,
        person(n),
        answers=ANSWERS,
        admission_ticket=None,
        now=now,
        secret_key=SECRET,
        **kwargs,
    )


def counts(session, slot_id):
    slot = session.get(Slot, slot_id, populate_existing=True)
    return slot.held, slot.booked
