"""Moving a confirmed booking to another time, under the rules a booking is made under.

Within its clinic a move needs no admission. Another clinic is a new choice of place: while
the waiting room applies to the caller (not staff) the move needs an admission, and spends it
as a booking would (the booking now carries that ticket, so it books nothing else). The person
must be eligible on the new date for the new slot's product; a 2-1-1 agent may override with a
reason, as when booking. A course moves together: dose 2 is re-picked inside the new window.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import Clinic, Reservation, ReservationStatus, Slot
from booking.services import courses, eligibility, products
from booking.services.errors import (
    AdmissionNeeded,
    AdmissionSpent,
    Conflict,
    InvalidInput,
    NotEligible,
    NotFound,
)
from booking.services.holds import ADMISSION_SPENT, admission_bookings, refuse_spent_admission
from booking.services.notices import DEFAULT_NOTICES, NoticePolicy, booking_moved
from booking.services.reservations import lock_reservation, valid_override
from booking.services.slot_counts import Counter, adjust, take_place_or_raise
from booking.services.text import N_

CONFIRMED = ReservationStatus.CONFIRMED.value


def reschedule_reservation(
    session: Session,
    reservation_id: int,
    new_slot_id: int,
    *,
    now: datetime,
    notices: NoticePolicy = DEFAULT_NOTICES,
    online: bool = True,
    second_dose_slot_id: int | None = None,
    require_admission: bool = False,
    admission_ticket: str | None = None,
    override_reason: str | None = None,
) -> Reservation:
    """Move a confirmed reservation: take the new place first, then free the old one.

    ``online=False`` (a 2-1-1 agent) may use places set aside for phone bookings; with an
    ``override_reason`` an agent moves someone the rules refuse on the new date. With
    ``require_admission`` a move to another clinic needs (and spends) ``admission_ticket``,
    else ``AdmissionNeeded``.
    """
    reservation = lock_reservation(session, reservation_id)
    if reservation.status != CONFIRMED:
        raise Conflict(N_("Only a confirmed appointment can be moved."))
    if new_slot_id == reservation.slot_id:
        raise InvalidInput(
            N_("That is the time you already have."),
            errors={"slot_id": N_("Choose a different time.")},
        )
    new_slot = session.get(Slot, new_slot_id)
    if new_slot is None:
        raise NotFound(N_("No slot with that id."))
    if new_slot.service != reservation.service:
        raise InvalidInput(
            N_("The new time must be for the same vaccine."),
            errors={"slot_id": N_("Choose a time for the same vaccine.")},
        )
    if new_slot.clinic_id != reservation.clinic_id and require_admission:
        _spend_admission(session, reservation, admission_ticket)
    refusal = move_refusal(session, reservation, new_slot_id, now=now)
    if refusal is not None and not valid_override(override_reason):
        raise refusal
    check_dose_two_move(session, reservation, new_slot)
    old_slot_id = reservation.slot_id
    take_place_or_raise(session, new_slot_id, now=now, counter=Counter.BOOKED, online=online)
    reservation.slot_id = new_slot.id
    reservation.clinic_id = new_slot.clinic_id
    reservation.product_id = new_slot.product_id
    reservation.updated_at = now
    session.flush()
    # A course moves together: dose 2 re-picked inside the new window, in this transaction.
    moved = move_second_dose(
        session, reservation, new_slot, second_dose_slot_id, now=now, online=online
    )
    adjust(session, old_slot_id, Counter.BOOKED, -1)
    old_slot = session.get(Slot, old_slot_id)
    assert old_slot is not None
    booking_moved(session, reservation, old_slot, new_slot, now=now, policy=notices, second=moved)
    return reservation


def move_refusal(
    session: Session, reservation: Reservation, new_slot_id: int, *, now: datetime
) -> NotEligible | None:
    """Why the rules refuse this person the new time (None: eligible there).

    Age on the new date, for the new slot's product, under the rules in force today. The
    residency and condition answers were checked at booking and stand.
    """
    if reservation.date_of_birth is None:
        return None
    appointment = eligibility.appointment_of(session, new_slot_id, now=now)
    try:
        eligibility.check_booking(session, appointment, reservation.date_of_birth, None)
    except NotEligible as refusal:
        return refusal
    return None


def _spend_admission(session: Session, reservation: Reservation, ticket: str | None) -> None:
    """A move to another clinic takes an admission, which books nothing else afterwards."""
    if not ticket:
        raise AdmissionNeeded(
            N_("Moving to another clinic is a new choice of place: join the line first.")
        )
    if ticket == reservation.admission_ticket:
        return  # the admission this booking was made with, still open: nothing more to spend
    refuse_spent_admission(admission_bookings(session, ticket), companion_allowed=False)
    try:
        # A savepoint: a concurrent booking or move under the same admission wins the index.
        with session.begin_nested():
            reservation.admission_ticket = ticket
            session.flush()
    except IntegrityError:
        raise AdmissionSpent(ADMISSION_SPENT) from None


def move_second_dose(
    session: Session,
    first: Reservation,
    new_first_slot: Slot,
    chosen_slot_id: int | None,
    *,
    now: datetime,
    online: bool,
) -> tuple[Reservation, Slot, Slot] | None:
    """After dose 1 moved: keep dose 2 if it still fits the window, else move it (or raise).

    Returns (dose 2, its old slot, its new slot) when dose 2 moved.
    """
    second = courses.second_dose_of(session, first, lock=True)
    if second is None:
        if chosen_slot_id is not None:
            message = N_("This booking has no second dose to choose a time for.")
            raise InvalidInput(message, errors={courses.FIELD: message})
        return None
    if new_first_slot.product_id != second.product_id:
        raise InvalidInput(
            N_("The new time must be for the same vaccine."),
            errors={"slot_id": N_("Choose a time for the same vaccine.")},
        )
    old_slot = session.get(Slot, second.slot_id)
    assert old_slot is not None
    if chosen_slot_id is None or chosen_slot_id == second.slot_id:
        try:
            courses.check_second_dose_slot(session, second.slot_id, new_first_slot)
            return None  # dose 2 still fits the new window at the new clinic: it stays
        except InvalidInput:
            if chosen_slot_id is not None:
                raise
    new_slot = courses.take_second_place(
        session, new_first_slot, chosen_slot_id, now=now, online=online
    )
    second.slot_id = new_slot.id
    second.clinic_id = new_slot.clinic_id
    second.updated_at = now
    session.flush()
    adjust(session, old_slot.id, Counter.BOOKED, -1)
    return second, old_slot, new_slot


def check_dose_two_move(session: Session, second: Reservation, new_slot: Slot) -> None:
    """A dose 2 moves only to a slot of its product inside its window (and dose 1's clinic)."""
    if second.dose_number != 2:
        return
    first = courses.first_dose_of(session, second)
    if first is not None and first.status == CONFIRMED:
        first_slot = session.get(Slot, first.slot_id)
        assert first_slot is not None
        courses.check_second_dose_slot(session, new_slot.id, first_slot)
        return
    if new_slot.product_id != second.product_id:
        raise InvalidInput(
            N_("Dose 2 must be the same vaccine as dose 1."),
            errors={"slot_id": courses.NOT_A_DOSE_TWO_TIME},
        )
    given = second.prior_dose_date
    if given is None:  # dose 1 was here and is no longer booked: keep dose 2 where it is
        message = courses.NOT_A_DOSE_TWO_TIME
        raise InvalidInput(message, errors={"slot_id": message})
    clinic = session.get(Clinic, new_slot.clinic_id)
    assert clinic is not None
    courses.check_in_window(
        products.get_product(session, second.product_id),
        given,
        courses.local_day(new_slot.starts_at, clinic),
    )
