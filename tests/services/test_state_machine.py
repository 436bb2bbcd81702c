"""A Hypothesis state machine over the booking services, checked against the database.

Random sequences of hold / confirm / cancel / reschedule / release / sweep and clock moves are
run through the services. Each operation is one unit of work, as a request would run it: a
savepoint that is rolled back if the service refuses. After every step the counters must
match the reservations (held == live holds, booked == bookings) and never exceed capacity;
each operation's outcome must also be the one a simple model of the rules predicts.

Every example runs in its own transaction on its own connection, rolled back at the end, so
examples start from an empty schema and leave nothing behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from booking.db import make_engine
from booking.models import BOOKED_STATUSES, Reservation, Slot
from booking.services import holds, moves, reservations, sweep
from booking.services.errors import (
    AlreadyBooked,
    Conflict,
    DomainError,
    HoldExpired,
    InvalidInput,
    SlotFull,
    SlotUnavailable,
)
from tests.support import ANSWERS, make_clinic, make_slot, person

pytestmark = pytest.mark.slow

SECRET = "state-machine-secret"
HOLD_MINUTES = 10
START = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
BOOKED = {status.value for status in BOOKED_STATUSES}

slot_specs = st.lists(
    st.tuples(
        st.sampled_from([1, 2, 2, 3, 0]),  # capacity (shrinks towards 1)
        st.sampled_from([24 * 60, 180, 60, 25]),  # minutes from the start until it begins
        st.sampled_from(["covid19", "covid19", "covid19", "flu"]),
    ),
    min_size=2,
    max_size=4,
    unique_by=lambda spec: (spec[1], spec[2]),
)


class BookingMachine(RuleBasedStateMachine):
    """Drives the services and checks the counters against the rows after every step."""

    engine: ClassVar[Engine]

    slots = Bundle("slots")
    reservations = Bundle("reservations")

    def __init__(self) -> None:
        super().__init__()
        self.connection = self.engine.connect()
        self.outer = self.connection.begin()
        self.session = Session(
            bind=self.connection, join_transaction_mode="create_savepoint", autoflush=True
        )
        self.now = START
        self.codes: dict[int, str] = {}

    def teardown(self) -> None:
        self.session.close()
        self.outer.rollback()
        self.connection.close()

    # --- helpers -------------------------------------------------------------------------

    def unit(self, work: Callable[[], Any]) -> tuple[Any, DomainError | None]:
        """Run one operation as a unit of work: a refusal undoes everything it did."""
        try:
            with self.session.begin_nested():
                return work(), None
        except DomainError as exc:
            return None, exc

    def slot_row(self, slot_id: int) -> Any:
        return self.session.execute(
            select(Slot.capacity, Slot.held, Slot.booked, Slot.starts_at, Slot.service).where(
                Slot.id == slot_id
            )
        ).one()

    def reservation_row(self, reservation_id: int) -> Any:
        return self.session.execute(
            select(
                Reservation.status,
                Reservation.slot_id,
                Reservation.service,
                Reservation.hold_token,
                Reservation.hold_expires_at,
                Reservation.person_key,
                Reservation.confirmation_code,
            ).where(Reservation.id == reservation_id)
        ).one()

    def expired_holds(self, slot_id: int | None = None, *, besides: int | None = None) -> int:
        query = select(func.count()).where(
            Reservation.status == "held", Reservation.hold_expires_at <= self.now
        )
        if slot_id is not None:
            query = query.where(Reservation.slot_id == slot_id)
        if besides is not None:
            query = query.where(Reservation.id != besides)
        return int(self.session.scalar(query) or 0)

    def taking_outcome(self, slot_id: int, *, freed: int = 0, besides: int | None = None) -> Any:
        """What taking a place in the slot must give: None (success) or the error class."""
        slot = self.slot_row(slot_id)
        if slot.starts_at <= self.now:
            return SlotUnavailable
        room = slot.held + slot.booked - freed < slot.capacity
        # A full slot releases its expired holds first, so it sells out exactly.
        if room or self.expired_holds(slot_id, besides=besides):
            return None
        return SlotFull

    @staticmethod
    def check(error: DomainError | None, expected: Any) -> None:
        if expected is None:
            assert error is None, f"refused unexpectedly: {error!r}"
        else:
            assert isinstance(error, expected), f"expected {expected.__name__}, got {error!r}"

    # --- setup ---------------------------------------------------------------------------

    @initialize(target=slots, specs=slot_specs)
    def open_clinic(self, specs: list[tuple[int, int, str]]) -> Any:
        clinic = make_clinic(self.session, self.now)
        ids = [
            make_slot(
                self.session,
                clinic,
                self.now + timedelta(minutes=minutes),
                capacity=capacity,
                service=service,
            ).id
            for capacity, minutes, service in specs
        ]
        return multiple(*ids)

    # --- operations ----------------------------------------------------------------------

    @rule(target=reservations, slot=slots)
    def hold(self, slot: int) -> Any:
        expected = self.taking_outcome(slot)
        held, error = self.unit(
            lambda: holds.place_hold(self.session, slot, now=self.now, hold_minutes=HOLD_MINUTES)
        )
        self.check(error, expected)
        if held is None:
            return multiple()
        row = self.reservation_row(held.id)
        assert (row.status, row.slot_id) == ("held", slot)
        assert row.hold_expires_at == self.now + timedelta(minutes=HOLD_MINUTES)
        return held.id

    @rule(target=reservations, slot=slots, old=reservations)
    def hold_instead(self, slot: int, old: int) -> Any:
        previous = self.reservation_row(old)
        is_held = previous.status == "held"
        freed = int(is_held and previous.slot_id == slot)
        expected = self.taking_outcome(slot, freed=freed, besides=old)
        held, error = self.unit(
            lambda: holds.place_hold(
                self.session,
                slot,
                now=self.now,
                hold_minutes=HOLD_MINUTES,
                replace_hold=previous.hold_token,
            )
        )
        self.check(error, expected)
        after = self.reservation_row(old).status
        if held is None:
            assert after == previous.status  # the refusal gave nothing back
            return multiple()
        assert after == ("cancelled" if is_held else previous.status)
        return held.id

    @rule(target=reservations, slot=slots, who=st.integers(min_value=0, max_value=2))
    def hold_and_confirm(self, slot: int, who: int) -> Any:
        """A resident who fills the form at once (so there are bookings to move and cancel)."""
        held = self.hold(slot)
        if isinstance(held, int):
            self.confirm(held, who)
        return held

    @rule(reservation=reservations, who=st.integers(min_value=0, max_value=2))
    def confirm(self, reservation: int, who: int) -> None:
        row = self.reservation_row(reservation)
        resident = person(who)
        if row.status in BOOKED:
            expected = None if row.person_key == resident.key else Conflict
        elif row.status == "cancelled":
            expected = Conflict
        elif row.status == "expired" or row.hold_expires_at <= self.now:
            expected = HoldExpired
        elif self.session.scalar(
            select(func.count()).where(
                Reservation.person_key == resident.key,
                Reservation.service == row.service,
                Reservation.status == "confirmed",
            )
        ):
            expected = AlreadyBooked
        else:
            expected = None
        done, error = self.unit(
            lambda: reservations.confirm_hold(
                self.session,
                row.hold_token,
                resident,
                now=self.now,
                secret_key=SECRET,
                answers=ANSWERS,
                admission_ticket=None,
            )
        )
        self.check(error, expected)
        after = self.reservation_row(reservation)
        if done is None:
            assert after == row
            return
        assert done.replayed == (row.status in BOOKED)
        assert after.status == "confirmed" and after.person_key == resident.key
        code = self.codes.setdefault(reservation, after.confirmation_code)
        assert after.confirmation_code == code  # a replay answers with the same code

    @rule(reservation=reservations)
    def cancel(self, reservation: int) -> None:
        row = self.reservation_row(reservation)
        expected = None if row.status in ("confirmed", "cancelled") else Conflict
        _, error = self.unit(
            lambda: reservations.cancel_reservation(self.session, reservation, now=self.now)
        )
        self.check(error, expected)
        after = self.reservation_row(reservation).status
        assert after == ("cancelled" if error is None else row.status)

    @rule(reservation=reservations, slot=slots)
    def reschedule(self, reservation: int, slot: int) -> None:
        row = self.reservation_row(reservation)
        if row.status != "confirmed":
            expected = Conflict
        elif slot == row.slot_id or self.slot_row(slot).service != row.service:
            expected = InvalidInput
        else:
            expected = self.taking_outcome(slot)
        _, error = self.unit(
            lambda: moves.reschedule_reservation(self.session, reservation, slot, now=self.now)
        )
        self.check(error, expected)
        after = self.reservation_row(reservation)
        if error is None:
            assert (after.status, after.slot_id) == ("confirmed", slot)
            assert after.confirmation_code == row.confirmation_code
        else:
            assert after == row

    @rule(reservation=reservations)
    def release(self, reservation: int) -> None:
        row = self.reservation_row(reservation)
        expected = Conflict if row.status in BOOKED else None
        _, error = self.unit(lambda: holds.release_hold(self.session, row.hold_token, now=self.now))
        self.check(error, expected)
        after = self.reservation_row(reservation).status
        if error is None and row.status == "held":
            assert after == "cancelled"
        else:
            assert after == row.status

    @precondition(lambda self: self.expired_holds() > 0)  # only when there is work to do
    @rule()
    def sweep(self) -> None:
        due = self.expired_holds()
        released, error = self.unit(lambda: sweep.release_expired_holds(self.session, now=self.now))
        self.check(error, None)
        assert released == due
        assert self.expired_holds() == 0

    @rule(minutes=st.integers(min_value=1, max_value=20))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    # --- the invariant, straight from the database ---------------------------------------

    @invariant()
    def counters_match_the_reservations(self) -> None:
        live: Counter[tuple[int, str]] = Counter()
        for slot_id, status, count in self.session.execute(
            select(Reservation.slot_id, Reservation.status, func.count()).group_by(
                Reservation.slot_id, Reservation.status
            )
        ):
            live[slot_id, "booked" if status in BOOKED else status] += count
        for slot_id, capacity, held, booked in self.session.execute(
            select(Slot.id, Slot.capacity, Slot.held, Slot.booked)
        ):
            assert held == live[slot_id, "held"], (slot_id, held, live)
            assert booked == live[slot_id, "booked"], (slot_id, booked, live)
            assert 0 <= held + booked <= capacity, (slot_id, held, booked, capacity)


@pytest.fixture
def machine_engine(database_url: str) -> Any:
    engine = make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def test_counters_always_match_reservations(machine_engine):
    BookingMachine.engine = machine_engine
    run_state_machine_as_test(
        BookingMachine,
        settings=settings(
            max_examples=100,
            stateful_step_count=30,
            derandomize=True,  # the same sequences on every run: CI is reproducible
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
