"""Two-dose courses: dose 2 booked, moved and cancelled together with dose 1.

Booking dose 1 of a two-dose product books dose 2 in the same transaction (inside
``confirm_hold``'s savepoint), at the same clinic, for the same product, on a day inside the
product's interval: both or neither. Dose 2's place is taken by the same conditional UPDATE as
any booking (``take_place_or_raise``), so the races are the ones every booking survives. Slots
are locked in time order (dose 1 before dose 2, which is always later), so two courses never
wait on each other in a cycle.

"Dose 2 only" is a hold confirmed with the date dose 1 was given elsewhere
(``prior_dose_date``); the slot must lie inside the window counted from that date.

Cancelling dose 1 cancels dose 2 too, unless the person says dose 1 was (or will be) given
elsewhere, with its date: dose 2 then stays, as "dose 2 only" from that date, if its slot still
lies inside the window. A dose 2 never stands on nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from booking.models import Clinic, Reservation, ReservationStatus, Slot, VaccineProduct
from booking.services import statements
from booking.services.errors import InvalidInput, SlotFull, SlotUnavailable
from booking.services.inventory import local_day_bounds
from booking.services.slot_counts import (
    Counter,
    adjust,
    agent_room,
    online_free,
    take_place_or_raise,
)
from booking.services.text import N_, Msg
from booking.services.tokens import new_confirmation_code, new_hold_token

CONFIRMED = ReservationStatus.CONFIRMED.value
FIELD = "second_dose_slot_id"
# Every time of a 22-day window at a clinic with 10-minute slots from 8 to 8 is about 1,600;
# past this many the list stops and the form says so (a product an admin gave a longer window).
MAX_OPTIONS = 2000

_CHOOSE = N_(
    "A time for dose 2 must be chosen: there is no free place at the same time of day on the "
    "first day dose 2 is due. Choose one of the times offered for dose 2."
)
NOT_A_DOSE_TWO_TIME = N_("Choose one of the times offered for dose 2.")


def is_course(product: VaccineProduct) -> bool:
    """Whether the product is given as a course of two doses."""
    return product.doses == 2 and product.interval_days is not None


def window(product: VaccineProduct, first_dose_day: date) -> tuple[date, date]:
    """The first and last day dose 2 may be given, counted from dose 1's day."""
    assert product.interval_days is not None and product.interval_max_days is not None
    return (
        first_dose_day + timedelta(days=product.interval_days),
        first_dose_day + timedelta(days=product.interval_max_days),
    )


def local_day(moment: datetime, clinic: Clinic) -> date:
    """The calendar day of ``moment`` at the clinic."""
    return moment.astimezone(ZoneInfo(clinic.timezone)).date()


def _product(session: Session, product_id: int) -> VaccineProduct:
    product = session.get(VaccineProduct, product_id)
    assert product is not None  # a foreign key guarantees it
    return product


def _clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    return clinic


def second_dose_options(
    session: Session,
    first_slot: Slot,
    *,
    now: datetime,
    online: bool = True,
    first_dose_day: date | None = None,
) -> list[Slot]:
    """Free slots at the clinic, of the product, on the days dose 2 is due (past the horizon)."""
    product = _product(session, first_slot.product_id)
    if not is_course(product):
        return []
    clinic = _clinic(session, first_slot.clinic_id)
    first, last = window(product, first_dose_day or local_day(first_slot.starts_at, clinic))
    start, _ = local_day_bounds(first, clinic.timezone)
    _, end = local_day_bounds(last, clinic.timezone)
    room = online_free(now) > 0 if online else agent_room()
    return list(
        session.scalars(
            select(Slot)
            .where(
                Slot.clinic_id == first_slot.clinic_id,
                Slot.product_id == first_slot.product_id,
                Slot.is_open.is_(True),
                Slot.starts_at >= start,
                Slot.starts_at < end,
                Slot.starts_at > now,
                room,
            )
            .order_by(Slot.starts_at)
            .limit(MAX_OPTIONS)
        )
    )


def _default_due(session: Session, first_slot: Slot) -> datetime | None:
    """When dose 2 is due by default: dose 1's time of day on the first day of the window."""
    product = _product(session, first_slot.product_id)
    if not is_course(product):
        return None
    clinic = _clinic(session, first_slot.clinic_id)
    tz = ZoneInfo(clinic.timezone)
    local = first_slot.starts_at.astimezone(tz)
    assert product.interval_days is not None
    # The same wall-clock time, across a daylight-saving change too.
    due = (local.replace(tzinfo=None) + timedelta(days=product.interval_days)).replace(tzinfo=tz)
    return due.astimezone(UTC)


def default_second_dose(session: Session, first_slot: Slot) -> Slot | None:
    """The slot at the same time of day on the first day dose 2 is due, if the clinic has one."""
    due = _default_due(session, first_slot)
    if due is None:
        return None
    return session.scalars(
        select(Slot).where(
            Slot.clinic_id == first_slot.clinic_id,
            Slot.product_id == first_slot.product_id,
            Slot.starts_at == due,
        )
    ).first()


def check_second_dose_slot(
    session: Session, slot_id: object, first_slot: Slot, *, first_dose_day: date | None = None
) -> Slot:
    """The chosen dose-2 slot if it is at dose 1's clinic, of its product, inside the window."""
    invalid = InvalidInput(NOT_A_DOSE_TWO_TIME, errors={FIELD: NOT_A_DOSE_TWO_TIME})
    # A bool is an int to Python, and no id is negative or past PostgreSQL's integer.
    if type(slot_id) is not int or not 0 < slot_id <= 2_147_483_647:
        raise invalid
    slot = session.get(Slot, slot_id)
    if slot is None or slot.clinic_id != first_slot.clinic_id:
        raise invalid
    if slot.product_id != first_slot.product_id:
        raise InvalidInput(
            N_("Dose 2 must be the same vaccine as dose 1."),
            errors={FIELD: NOT_A_DOSE_TWO_TIME},
        )
    clinic = _clinic(session, slot.clinic_id)
    check_in_window(
        _product(session, slot.product_id),
        first_dose_day or local_day(first_slot.starts_at, clinic),
        local_day(slot.starts_at, clinic),
    )
    return slot


def check_in_window(product: VaccineProduct, first_dose_day: date, day: date) -> None:
    """Refuse a dose-2 day outside the window counted from dose 1's day."""
    first, last = window(product, first_dose_day)
    if not first <= day <= last:
        message = N_(
            "Dose 2 of this vaccine is given from %(first)s to %(last)s. Choose a time in "
            "those days.",
            first=first.isoformat(),
            last=last.isoformat(),
        )
        raise InvalidInput(message, errors={FIELD: message})


def take_second_place(
    session: Session, first_slot: Slot, chosen: int | None, *, now: datetime, online: bool
) -> Slot:
    """Take dose 2's place: the chosen slot, or the default one if it has room."""
    if chosen is None:
        fast = _take_default_fast(session, first_slot, now=now, online=online)
        if fast is not None:
            return fast
        # The slow path says why (no such slot, or full) and reclaims expired holds first.
        default = default_second_dose(session, first_slot)
        if default is None:
            raise InvalidInput(_CHOOSE, errors={FIELD: NOT_A_DOSE_TWO_TIME})
        try:
            return take_place_or_raise(
                session, default.id, now=now, counter=Counter.BOOKED, online=online
            )
        except (SlotFull, SlotUnavailable):
            raise InvalidInput(_CHOOSE, errors={FIELD: NOT_A_DOSE_TWO_TIME}) from None
    slot = check_second_dose_slot(session, chosen, first_slot)
    try:
        return take_place_or_raise(session, slot.id, now=now, counter=Counter.BOOKED, online=online)
    except (SlotFull, SlotUnavailable):
        taken = N_("The time you chose for dose 2 was just taken. Choose another time for dose 2.")
        raise SlotFull(taken, errors={FIELD: taken}) from None


def _take_default_fast(
    session: Session, first_slot: Slot, *, now: datetime, online: bool
) -> Slot | None:
    """Take a place in the default dose-2 slot with one conditional UPDATE, if it has room.

    Finding the slot by its unique key (clinic, time, product) in the UPDATE itself spares
    the lookup and the re-read that ``take_place_or_raise`` does: a third of a course's extra
    statements. None (nothing taken) sends the caller down the slow path.
    """
    due = _default_due(session, first_slot)
    if due is None:
        return None
    return session.scalars(
        statements.take_slot_at(online),
        {
            "at_clinic_id": first_slot.clinic_id,
            "at_product_id": first_slot.product_id,
            "at_starts_at": due,
            "now": now,
        },
        execution_options=statements.RETURNING_ONE,
    ).one_or_none()


def book_second_dose(
    session: Session,
    first: Reservation,
    first_slot: Slot,
    chosen_slot_id: int | None,
    *,
    now: datetime,
) -> Reservation | None:
    """Book dose 2 of ``first``'s course (just confirmed, not committed); None for one dose.

    Raises (and the caller's savepoint undoes dose 1) if dose 2 cannot be booked.
    """
    product = _product(session, first.product_id)
    if first.dose_number != 1 or not is_course(product):
        if chosen_slot_id is not None:
            message = N_("This booking has no second dose to choose a time for.")
            raise InvalidInput(message, errors={FIELD: message})
        return None
    online = first.channel == "online"
    slot = take_second_place(session, first_slot, chosen_slot_id, now=now, online=online)
    second = Reservation(
        slot_id=slot.id,
        clinic_id=slot.clinic_id,
        service=first.service,
        product_id=first.product_id,
        dose_number=2,
        course_id=first.id,
        status=CONFIRMED,
        channel=first.channel,
        # Never a live hold: the token only fills the column; dose 2 is managed through dose 1.
        hold_token=new_hold_token(),
        hold_expires_at=now,
        first_name=first.first_name,
        last_name=first.last_name,
        date_of_birth=first.date_of_birth,
        person_key=first.person_key,
        phone=first.phone,
        email=first.email,
        eligibility_attested=first.eligibility_attested,
        locale=first.locale,
        confirmation_code=new_confirmation_code(),
        created_at=now,
        updated_at=now,
        confirmed_at=now,
    )
    session.add(second)
    session.flush()
    # Dose 2's slot stays in the identity map (a weak one) while dose 2 lives, so the messages
    # written next find it there instead of reading it twice more; no history, nothing flushed.
    set_committed_value(second, "slot", slot)
    return second


def as_second_dose_only(
    session: Session, hold: Reservation, prior_dose_date: date, *, now: datetime
) -> None:
    """Make a hold "dose 2 only": dose 1 given elsewhere on ``prior_dose_date``."""
    product = _product(session, hold.product_id)
    if not is_course(product):
        message = N_("This vaccine is given as one dose: there is no dose 2 to book.")
        raise InvalidInput(message, errors={"prior_dose_date": message})
    slot = session.get(Slot, hold.slot_id)
    assert slot is not None
    clinic = _clinic(session, slot.clinic_id)
    if prior_dose_date > local_day(now, clinic):
        message = N_("The date of dose 1 cannot be in the future.")
        raise InvalidInput(message, errors={"prior_dose_date": message})
    check_in_window(product, prior_dose_date, local_day(slot.starts_at, clinic))
    hold.dose_number = 2
    hold.prior_dose_date = prior_dose_date


def second_dose_of(
    session: Session, first: Reservation, *, lock: bool = False
) -> Reservation | None:
    """The confirmed dose 2 booked with this dose 1, if any."""
    query = select(Reservation).where(
        Reservation.course_id == first.id, Reservation.status == CONFIRMED
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def first_dose_of(session: Session, second: Reservation) -> Reservation | None:
    """The dose 1 a dose 2 was booked with, if it was booked here."""
    return session.get(Reservation, second.course_id) if second.course_id else None


def cancel_second_dose(
    session: Session, first: Reservation, *, now: datetime, dose_one_given_on: date | None
) -> Reservation | None:
    """On cancelling dose 1: cancel its dose 2, or keep it as "dose 2 only" from that date."""
    second = second_dose_of(session, first, lock=True)
    if second is None:
        return None
    if dose_one_given_on is not None:
        slot = session.get(Slot, second.slot_id)
        assert slot is not None
        clinic = _clinic(session, slot.clinic_id)
        if dose_one_given_on > local_day(now, clinic):
            message = N_("The date of dose 1 cannot be in the future.")
            raise InvalidInput(message, errors={"prior_dose_date": message})
        check_in_window(
            _product(session, second.product_id),
            dose_one_given_on,
            local_day(slot.starts_at, clinic),
        )
        second.prior_dose_date = dose_one_given_on
        second.updated_at = now
        session.flush()
        return None
    second.status = ReservationStatus.CANCELLED.value
    second.cancelled_at = now
    second.updated_at = now
    session.flush()
    adjust(session, second.slot_id, Counter.BOOKED, -1)
    return second


def describe_window(product: VaccineProduct, first_dose_day: date) -> Msg:
    """The days dose 2 is due, in plain words."""
    first, last = window(product, first_dose_day)
    return N_(
        "Dose 2 is due from %(first)s to %(last)s.", first=first.isoformat(), last=last.isoformat()
    )
