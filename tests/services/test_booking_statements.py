"""The booking path on prebuilt Core statements: how many it sends, and what it still refuses.

Counted with an SQLAlchemy cursor event, so a change that adds a statement to a hold or a
confirmation (an ORM flush, a re-read, a lazy load) fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, literal, select

from booking.models import Clinic, OutboxMessage, Reservation, Slot, VaccineProduct
from booking.services import holds, reservations, statements
from booking.services.errors import AlreadyBooked, Conflict
from booking.services.notices import take_for_dispatch
from tests.support import ANSWERS, make_clinic, make_slot, person

SECRET = "test-secret"


@contextmanager
def sent(session: Any) -> Iterator[list[str]]:
    """The SQL statements sent inside the block, in order."""
    seen: list[str] = []
    engine = session.get_bind().engine

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:60])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def postgresql(session: Any) -> bool:
    return bool(session.get_bind().dialect.name == "postgresql")


@pytest.fixture
def slot(session, now):
    return make_slot(session, make_clinic(session, now), now + timedelta(days=1), capacity=2)


def hold(session, slot, now, **kw):
    return holds.place_hold(session, slot.id, now=now, hold_minutes=10, **kw)


def confirm(session, h, p, now, ticket=None):
    return reservations.confirm_hold(
        session,
        h.hold_token,
        p,
        now=now,
        secret_key=SECRET,
        answers=ANSWERS,
        admission_ticket=ticket,
    )


def test_a_hold_is_two_statements_on_postgresql_three_on_sqlite(session, slot, now):
    session.flush()
    with sent(session) as statements_sent:
        h = hold(session, slot, now, request_key="key-1", admission_ticket="ticket-1")
    # The key and ticket lookup; the place taken and the hold inserted (one CTE on PostgreSQL).
    assert len(statements_sent) == (2 if postgresql(session) else 3), statements_sent
    assert h.status == "held" and h.slot_id == slot.id


def test_a_confirmation_under_a_ticket_is_seven_statements_on_postgresql_eight_on_sqlite(
    session, slot, now
):
    h = hold(session, slot, now, admission_ticket="ticket-1")
    session.flush()
    with sent(session) as statements_sent:
        done = confirm(session, h, person(1), now, ticket="ticket-1")
    # The locking SELECT (slot, product, zone, other booking), the admission's bookings, the
    # rules, SAVEPOINT, the place booked and the hold filled (one statement on PostgreSQL),
    # RELEASE, and all the outbox rows in one INSERT.
    assert len(statements_sent) == (7 if postgresql(session) else 8), "\n".join(statements_sent)
    assert sum(s.startswith("INSERT INTO outbox_message") for s in statements_sent) == 1
    # Nothing left for the unit of work: no ORM object added, nothing dirty to flush.
    assert not session.new and not session.dirty
    booked = session.get(Reservation, h.id, populate_existing=True)
    assert booked.status == "confirmed" and booked.confirmation_code == (
        done.reservation.confirmation_code
    )
    assert done.slot is not None and (done.slot.held, done.slot.booked) == (0, 1)
    fresh = session.get(Slot, slot.id, populate_existing=True)
    assert (fresh.held, fresh.booked) == (0, 1)
    # By SMS (the contact given): the confirmation and the 2-hour reminder (the 24-hour one
    # would be due before the booking), each noted for the after-commit hand-off.
    kinds = session.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.reservation_id == h.id)
    ).all()
    assert sorted(kinds) == ["confirmation", "reminder"]
    noted = take_for_dispatch(session)
    assert len(noted) == 2 and all(n.status == "queued" for n in noted)


def test_the_same_idempotency_key_for_another_slot_is_refused(session, slot, now):
    hold(session, slot, now, request_key="key-1")
    other = make_slot(session, make_clinic(session, now), now + timedelta(days=2))
    with pytest.raises(Conflict, match="another slot"):
        hold(session, other, now, request_key="key-1")
    assert session.get(Slot, other.id, populate_existing=True).held == 0


def test_another_tickets_hold_is_not_confirmed_nor_released(session, slot, now):
    h = hold(session, slot, now, admission_ticket="ticket-1")
    with pytest.raises(Conflict, match="another visitor"):
        confirm(session, h, person(1), now, ticket="ticket-2")
    assert session.get(Reservation, h.id, populate_existing=True).status == "held"
    fresh = session.get(Slot, slot.id, populate_existing=True)
    assert (fresh.held, fresh.booked) == (1, 0)


def _blind_lock() -> Any:
    """The locking SELECT without its other-booking check: as if that booking committed after."""
    return (
        select(Reservation, Slot, VaccineProduct, Clinic.timezone, literal(None).label("other"))
        .join(Slot, Slot.id == Reservation.slot_id)
        .join(Clinic, Clinic.id == Slot.clinic_id)
        .join(VaccineProduct, VaccineProduct.id == Reservation.product_id)
        .where(Reservation.hold_token == bindparam("hold_token"))
        .execution_options(populate_existing=True)
    )


def test_a_second_booking_the_check_missed_is_refused_by_the_index(session, slot, now, monkeypatch):
    # The Core UPDATE still meets the partial unique index; its savepoint undoes the place.
    other = make_slot(session, make_clinic(session, now), now + timedelta(days=3))
    confirm(session, hold(session, slot, now), person(1), now)
    second = hold(session, other, now)
    monkeypatch.setattr(statements, "lock_hold", _blind_lock)
    with pytest.raises(AlreadyBooked):
        confirm(session, second, person(1), now)
    assert session.get(Reservation, second.id, populate_existing=True).status == "held"
    fresh = session.get(Slot, other.id, populate_existing=True)
    assert (fresh.held, fresh.booked) == (1, 0)
    assert not session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.reservation_id == second.id)
    ).all()
