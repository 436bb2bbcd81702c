"""The data-retention rule, applied: what is deleted, and when (docs/operations.md, section 7).

Residents' personal data lives in reservations and the messages to them. It is deleted
``resident_days`` after the appointment, a whole slot at a time (the slot, its reservations, their
messages and delivery records), so the slot's counters never disagree with its reservations. A
slot whose first dose has its second dose still inside the window waits for it: a course is
deleted whole. Holds that expired carry no booking: they go ``hold_days`` after they ran out.
A clinic system's slot batches are kept ``BATCH_DAYS`` for replays of their Idempotency-Key
(docs/clinic-api.md), then deleted: past that a retry is a new batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, aliased

from booking.models import (
    ClinicApiBatch,
    OutboxDelivery,
    OutboxMessage,
    Reservation,
    ReservationStatus,
    Slot,
)

RESIDENT_DAYS = 90
HOLD_DAYS = 1
BATCH_DAYS = 7


@dataclass(frozen=True)
class Purged:
    """How many rows one purge batch deleted."""

    slots: int
    reservations: int
    messages: int
    expired_holds: int
    batches: int = 0


def _deleted(session: Session, statement: Any) -> int:
    """Run a bulk DELETE; return how many rows it removed."""
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]


def purge(
    session: Session,
    *,
    now: datetime,
    resident_days: int = RESIDENT_DAYS,
    hold_days: int = HOLD_DAYS,
    batch: int = 500,
) -> Purged:
    """Delete up to ``batch`` past slots with all they hold, and expired holds; never commit."""
    if resident_days < 1 or hold_days < 1:
        raise ValueError("retention periods are at least a day")
    cutoff = now - timedelta(days=resident_days)
    dose_two, its_slot = aliased(Reservation), aliased(Slot)
    dose_one = aliased(Reservation)
    # A first dose in this slot whose second dose is still kept holds the slot back.
    course_kept = exists(
        select(dose_two.id)
        .join(its_slot, its_slot.id == dose_two.slot_id)
        .join(dose_one, dose_one.id == dose_two.course_id)
        .where(dose_one.slot_id == Slot.id, its_slot.starts_at >= cutoff)
    )
    # Latest first: a course's second dose (later) goes in the same batch as its first or before.
    slot_ids = session.scalars(
        select(Slot.id)
        .where(Slot.starts_at < cutoff, ~course_kept)
        .order_by(Slot.starts_at.desc(), Slot.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    reservations = messages = 0
    if slot_ids:
        ids = select(Reservation.id).where(Reservation.slot_id.in_(slot_ids))
        message_ids = select(OutboxMessage.id).where(OutboxMessage.reservation_id.in_(ids))
        _deleted(session, delete(OutboxDelivery).where(OutboxDelivery.message_id.in_(message_ids)))
        messages = _deleted(session, delete(OutboxMessage).where(OutboxMessage.id.in_(message_ids)))
        # Second doses first: each points at its first dose (ON DELETE RESTRICT).
        in_slots = Reservation.slot_id.in_(slot_ids)
        reservations = _deleted(
            session, delete(Reservation).where(in_slots, Reservation.course_id.is_not(None))
        )
        reservations += _deleted(session, delete(Reservation).where(in_slots))
        _deleted(session, delete(Slot).where(Slot.id.in_(slot_ids)))
    referenced = exists(select(dose_two.id).where(dose_two.course_id == Reservation.id))
    has_messages = exists(
        select(OutboxMessage.id).where(OutboxMessage.reservation_id == Reservation.id)
    )
    holds = _deleted(
        session,
        delete(Reservation).where(
            Reservation.status == ReservationStatus.EXPIRED.value,
            Reservation.hold_expires_at < now - timedelta(days=hold_days),
            ~referenced,
            ~has_messages,
        ),
    )
    batches = _deleted(
        session,
        delete(ClinicApiBatch).where(ClinicApiBatch.created_at < now - timedelta(days=BATCH_DAYS)),
    )
    return Purged(len(slot_ids), reservations, messages, holds, batches)
