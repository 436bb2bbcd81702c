"""Search from the per clinic-day counts answers exactly what summing the slots answered.

Random sequences of holds, bookings, releases, cancellations, agent holds of phone places,
capacity edits, closures, phone and invitation set-asides, new and deleted slots, time zone
changes and folds run through the real services; after them, every search (each filter, no
day or a local day, several instants) is compared with the slot scan (scan_reference).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, exists, func, select
from sqlalchemy.orm import Session

from booking.db import make_engine
from booking.models import Channel, Clinic, Reservation, Slot, SlotDayCount, SlotDayDelta
from booking.services import day_counts, holds, invitations, reservations, schedule
from booking.services.errors import DomainError
from booking.services.inventory import search_clinics
from booking.services.slot_counts import release_expired_on_slot
from tests.search.scan_reference import scan_search
from tests.support import ANSWERS, make_clinic, make_slot, one_dose_product, person

pytestmark = pytest.mark.slow

# The night US clocks spring forward (2026-03-08) lies inside the horizon.
START = datetime(2026, 3, 6, 4, 30, tzinfo=UTC)
# Hours from START: before it, within today, across days, around the 14-day horizon's end.
OFFSETS = [-2, 1, 3, 19, 22, 30, 47, 70, 100, 200, 318, 333, 335, 337, 340, 360]
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles"]
KINDS = [
    "hold", "hold", "agent_hold", "confirm", "confirm", "release", "cancel", "capacity",
    "close", "phone", "invite", "new", "delete", "fold", "sweep", "timezone",
]  # fmt: skip
steps = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 40), st.integers(0, 40)),
    min_size=1,
    max_size=30,
)
_people = itertools.count(1)


class World:
    """Three clinics at one place (two zones), their slots, and what the steps made."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.clinics = [
            make_clinic(session, START, timezone=zone) for zone in (ZONES[0], ZONES[0], ZONES[1])
        ]
        self.covid = one_dose_product(session, "covid19").id
        self.flu = one_dose_product(session, "flu").id
        self.slots: list[int] = []
        self.holds: list[str] = []
        self.booked: list[int] = []
        for n, offset in enumerate(OFFSETS):
            self.new_slot(n, offset)

    def new_slot(self, a: int, offset: int) -> None:
        clinic = self.clinics[a % len(self.clinics)]
        service = "flu" if a % 4 == 3 else "covid19"
        starts = START + timedelta(hours=offset, minutes=10 * (a % 5))
        exists_already = self.session.scalar(
            select(func.count()).where(Slot.clinic_id == clinic.id, Slot.starts_at == starts)
        )
        if not exists_already:
            slot = make_slot(self.session, clinic, starts, capacity=1 + a % 4, service=service)
            self.slots.append(slot.id)

    def unit(self, work: Callable[[], Any]) -> None:
        """One operation as a request runs it: a refusal undoes everything it did."""
        try:
            with self.session.begin_nested():
                work()
        except DomainError:
            pass

    def step(self, kind: str, a: int, b: int) -> None:
        session, slot_id = self.session, self.slots[a % len(self.slots)]
        if kind in ("hold", "agent_hold"):
            channel = Channel.AGENT if kind == "agent_hold" else Channel.ONLINE

            def hold() -> None:
                held = holds.place_hold(
                    session, slot_id, now=START, hold_minutes=10 + b, channel=channel
                )
                self.holds.append(held.hold_token)

            self.unit(hold)
        elif kind == "confirm" and self.holds:
            token = self.holds.pop(b % len(self.holds))

            def confirm() -> None:
                done = reservations.confirm_hold(
                    session, token, person(next(_people)), answers=ANSWERS,
                    admission_ticket=None, now=START, secret_key="counts-secret",
                )  # fmt: skip
                self.booked.append(done.reservation.id)

            self.unit(confirm)
        elif kind == "release" and self.holds:
            token = self.holds.pop(b % len(self.holds))
            self.unit(lambda: holds.release_hold(session, token, now=START))
        elif kind == "cancel" and self.booked:
            booked = self.booked.pop(b % len(self.booked))
            self.unit(lambda: reservations.cancel_reservation(session, booked, now=START))
        elif kind == "capacity":
            clinic_id = session.get_one(Slot, slot_id).clinic_id
            self.unit(lambda: schedule.set_capacity(session, clinic_id, slot_id, b % 6))
        elif kind == "close":
            clinic_id = session.get_one(Slot, slot_id).clinic_id
            self.unit(lambda: schedule.close_slot(session, clinic_id, slot_id, now=START))
        elif kind == "phone":
            # What the staff's phone set-aside form writes (booking/admin/eligibility.py).
            slot = session.get_one(Slot, slot_id)
            slot.phone_reserved = min(slot.capacity, b % 3)
            slot.phone_release_at = slot.starts_at - timedelta(hours=b % 30)
            session.flush()
        elif kind == "invite":
            slot = session.get_one(Slot, slot_id)
            clinic = session.get_one(Clinic, slot.clinic_id)
            day = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
            self.unit(
                lambda: invitations.release_places(
                    session, clinic.id, day, b % 4, service=slot.service, now=START
                )
            )
        elif kind == "new":
            self.new_slot(a + b, OFFSETS[b % len(OFFSETS)] + a % 7)
        elif kind == "delete":
            session.execute(
                delete(Slot).where(
                    Slot.id == slot_id, ~exists().where(Reservation.slot_id == Slot.id)
                )
            )
            session.expire_all()
            if session.get(Slot, slot_id) is None and len(self.slots) > 1:
                self.slots.remove(slot_id)
        elif kind == "fold":
            day_counts.fold(session)
        elif kind == "sweep":
            release_expired_on_slot(session, slot_id, now=START + timedelta(minutes=10 + b))
        elif kind == "timezone":
            clinic = self.clinics[a % len(self.clinics)]
            clinic.timezone = ZONES[b % len(ZONES)]
            session.flush()

    def check(self) -> None:
        """Every search agrees with the slot scan."""
        session = self.session
        session.expire_all()
        local = START.astimezone(ZoneInfo(ZONES[0])).date()
        days = [None, *(local + timedelta(days=d) for d in (-1, 0, 1, 2, 3, 13, 14))]
        filters = [(None, None), ("covid19", None), ("flu", None), ("covid19", self.covid)]
        for hours, day, (service, product_id) in itertools.product((0, 21, 50), days, filters):
            now = START + timedelta(hours=hours)
            found = search_clinics(
                session, latitude=42.3427, longitude=-71.0922, radius_miles=5, now=now,
                day=day, service=service, product_id=product_id,
            )  # fmt: skip
            mine = [r for r in found if r.clinic.id in {c.id for c in self.clinics}]
            got = [(r.clinic.id, r.available_slots, r.next_available) for r in mine]
            want = scan_search(
                session, found, now=now, day=day, service=service, product_id=product_id
            )
            want = [row for row in want if row[0] in {c.id for c in self.clinics}]
            assert got == want, (hours, day, service, product_id)


@pytest.fixture
def count_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def test_search_from_counts_matches_the_slot_scan(count_engine):
    @settings(
        max_examples=15,
        derandomize=True,  # the same sequences on every run
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(steps)
    def run(sequence: list[tuple[str, int, int]]) -> None:
        connection = count_engine.connect()
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            world = World(session)
            for n, (kind, a, b) in enumerate(sequence):
                world.step(kind, a, b)
                if n == len(sequence) // 2:
                    world.check()
            world.check()
            day_counts.fold(session)
            world.check()
        finally:
            session.close()
            outer.rollback()
            connection.close()

    run()


def test_the_folded_rows_equal_the_slots(session, now):
    """After a fold there are no deltas left, and each row is the sum of its slots."""
    clinic = make_clinic(session, now)
    first = make_slot(session, clinic, now + timedelta(days=2), capacity=3)
    make_slot(session, clinic, now + timedelta(days=2, hours=1), capacity=2)
    holds.place_hold(session, first.id, now=now, hold_minutes=10)
    assert day_counts.fold(session) > 0
    assert session.scalar(select(func.count()).select_from(SlotDayDelta)) == 0
    row = session.execute(
        select(SlotDayCount.slots, SlotDayCount.free_held, SlotDayCount.free_released).where(
            SlotDayCount.clinic_id == clinic.id
        )
    ).one()
    assert tuple(row) == (2, 4, 4)
    session.execute(delete(Slot).where(Slot.clinic_id == clinic.id, Slot.id != first.id))
    day_counts.fold(session)
    assert session.execute(
        select(SlotDayCount.slots, SlotDayCount.free_released).where(
            SlotDayCount.clinic_id == clinic.id
        )
    ).one() == (1, 2)


def test_a_phone_set_aside_keeps_its_own_row_until_release(session, now):
    """Free places change at the release instant without any write: the row says when."""
    clinic = make_clinic(session, now)
    slot = make_slot(session, clinic, now + timedelta(days=3), capacity=4)
    slot.phone_reserved = 3
    slot.phone_release_at = now + timedelta(days=2)
    session.flush()
    day_counts.fold(session)
    local = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
    before = day_counts.free_by_day(session, [clinic.id], local, local, now=now)
    after = day_counts.free_by_day(
        session, [clinic.id], local, local, now=now + timedelta(days=2, seconds=1)
    )
    assert before == {(clinic.id, local): 1}
    assert after == {(clinic.id, local): 4}
