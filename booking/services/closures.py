"""A clinic cancelling a slot or a whole day: close it, cancel everyone in it, tell each of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from booking.models import Clinic, Reservation, ReservationStatus, Slot
from booking.services import courses
from booking.services.errors import InvalidInput, NotFound
from booking.services.inventory import local_day_bounds
from booking.services.notices import DEFAULT_NOTICES, NoticePolicy, booking_cancelled
from booking.services.slot_counts import Counter, adjust
from booking.services.text import N_

CONFIRMED = ReservationStatus.CONFIRMED.value
HELD = ReservationStatus.HELD.value


@dataclass(frozen=True)
class ClosureReport:
    """What a closure did."""

    slots_closed: int
    bookings_cancelled: int
    holds_released: int


def cancel_slots(
    session: Session,
    slot_ids: list[int],
    *,
    now: datetime,
    reason: str | None = None,
    notices: NoticePolicy = DEFAULT_NOTICES,
) -> ClosureReport:
    """Close the slots, cancel every booking and hold in them, and notify each booked resident.

    A course's dose 1 cancelled here takes its dose 2 with it (a dose 2 never stands on
    nothing), named in the same notice; a dose 2 cancelled here leaves its dose 1 as it is.
    """
    if not slot_ids:
        return ClosureReport(0, 0, 0)
    # Reservations are locked before slots, as everywhere, so this cannot deadlock a booking:
    # the dose 2 of each course whose dose 1 is here too, though its slot stays open.
    affected = session.scalars(
        select(Reservation)
        .where(Reservation.slot_id.in_(slot_ids), Reservation.status.in_((CONFIRMED, HELD)))
        .order_by(Reservation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    firsts = [r.id for r in affected if r.status == CONFIRMED and r.dose_number == 1]
    if firsts:
        session.scalars(
            select(Reservation.id)
            .where(Reservation.course_id.in_(firsts), Reservation.status == CONFIRMED)
            .order_by(Reservation.id)
            .with_for_update()
        ).all()
    slots = {
        slot.id: slot
        for slot in session.scalars(
            select(Slot).where(Slot.id.in_(slot_ids)).order_by(Slot.id).with_for_update()
        )
    }
    cancelled = released = 0
    for reservation in affected:
        was = reservation.status
        if was == ReservationStatus.CANCELLED.value:
            continue  # a dose 2 already cancelled with its dose 1 above
        reservation.status = ReservationStatus.CANCELLED.value
        reservation.cancelled_at = now
        reservation.updated_at = now
        session.flush()
        if was == HELD:
            adjust(session, reservation.slot_id, Counter.HELD, -1)
            released += 1
            continue
        adjust(session, reservation.slot_id, Counter.BOOKED, -1)
        second = courses.cancel_second_dose(session, reservation, now=now, dose_one_given_on=None)
        booking_cancelled(
            session,
            reservation,
            slots[reservation.slot_id],
            now=now,
            policy=notices,
            by_clinic=True,
            reason=reason,
            second=second,
        )
        cancelled += 1 + (second is not None)
    session.execute(
        update(Slot).where(Slot.id.in_(slot_ids)).values(is_open=False),
        execution_options={"synchronize_session": False},
    )
    return ClosureReport(len(slots), cancelled, released)


def cancel_clinic_day(
    session: Session,
    clinic_id: int,
    day: date,
    *,
    now: datetime,
    reason: str | None = None,
    notices: NoticePolicy = DEFAULT_NOTICES,
) -> ClosureReport:
    """Cancel every slot of a clinic's local calendar day that is not yet over."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound(N_("No clinic with that id."))
    start, end = local_day_bounds(day, clinic.timezone)
    if end <= now:
        raise InvalidInput(
            N_("That day is over."), errors={"date": N_("Choose today or a later day.")}
        )
    # Appointments already over stay as they were: no one is told a past visit was cancelled.
    slot_ids = list(
        session.scalars(
            select(Slot.id)
            .where(
                Slot.clinic_id == clinic_id,
                Slot.starts_at >= start,
                Slot.starts_at < end,
                Slot.ends_at > now,
            )
            .order_by(Slot.id)
        )
    )
    return cancel_slots(session, slot_ids, now=now, reason=reason, notices=notices)
