"""Two-dose courses on the pages: dose 2's choices, the form's fields and both appointments.

Shared by the residents' pages and the 2-1-1 console (no blueprint imports another). The
rules stay in ``booking.services.courses``: this module only reads what to offer and turns
form text into the plain values the services take, with a reason for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from booking.models import Clinic, Reservation, ReservationStatus, Slot, VaccineProduct
from booking.services import courses, products
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.services.validation import parse_date, parse_int

FIELD = courses.FIELD  # "second_dose_slot_id"
PRIOR_FIELD = "prior_dose_date"
MAX_ID = 2_147_483_647


@dataclass(frozen=True)
class DoseTwoChoice:
    """What the form offers for dose 2: the window in days and dates, the times, the default."""

    product: VaccineProduct
    min_days: int
    max_days: int
    first_day: date
    last_day: date
    options: list[Slot]
    default_id: int | None

    @property
    def cut_short(self) -> bool:
        """Whether more free times exist than the list holds (the last ones are left out)."""
        return len(self.options) >= courses.MAX_OPTIONS


@dataclass(frozen=True)
class Appointment:
    """One appointment of a booking, for the pages that show both doses."""

    reservation: Reservation
    slot: Slot
    clinic: Clinic


def dose_two_choice(
    session: Session,
    first_slot: Slot,
    *,
    now: datetime,
    online: bool = True,
    first_dose_day: date | None = None,
    keep: Slot | None = None,
) -> DoseTwoChoice | None:
    """Dose 2's times for dose 1 at ``first_slot`` (None: the product is one dose)."""
    product = products.slot_product(session, first_slot)
    if not courses.is_course(product):
        return None
    assert product.interval_days is not None and product.interval_max_days is not None
    clinic = session.get(Clinic, first_slot.clinic_id)
    assert clinic is not None
    day = first_dose_day or courses.local_day(first_slot.starts_at, clinic)
    first, last = courses.window(product, day)
    options = courses.second_dose_options(
        session, first_slot, now=now, online=online, first_dose_day=first_dose_day
    )
    default = None if first_dose_day else courses.default_second_dose(session, first_slot)
    # A dose 2 already booked stays a choice even if its slot is now full (the place is theirs).
    if keep is not None and first <= courses.local_day(keep.starts_at, clinic) <= last:
        if keep not in options:
            options = sorted([*options, keep], key=lambda s: s.starts_at)
        default = keep
    default_id = default.id if default is not None and default in options else None
    return DoseTwoChoice(
        product, product.interval_days, product.interval_max_days, first, last, options, default_id
    )


def options_by_day(choice: DoseTwoChoice, clinic: Clinic) -> list[tuple[date, list[Slot]]]:
    """The dose-2 times grouped by the clinic's calendar day, for the form's list."""
    groups: dict[date, list[Slot]] = {}
    for slot in choice.options:
        groups.setdefault(courses.local_day(slot.starts_at, clinic), []).append(slot)
    return list(groups.items())


def parse_second_dose(form: Any) -> int | None:
    """The dose-2 time the form chose (None: none sent); anything else is the form's error."""
    raw = form.get(FIELD)
    if raw is None or raw == "":
        return None
    message = N_("Choose one of the times offered for dose 2.")
    try:
        return parse_int(raw[:20] if isinstance(raw, str) else raw, field=FIELD, low=1, high=MAX_ID)
    except InvalidInput:
        raise InvalidInput(message, errors={FIELD: message}) from None


def parse_prior_date(raw: object, *, field: str = PRIOR_FIELD) -> date:
    """The date dose 1 was given elsewhere, from the form."""
    if not isinstance(raw, str) or not raw.strip():
        message = N_("Enter the date dose 1 was given.")
        raise InvalidInput(message, errors={field: message})
    return parse_date(raw[:20], field=field)


def appointments(session: Session, reservation: Reservation) -> list[Appointment]:
    """The booking and, for a course, its other dose (confirmed), in dose order."""
    found = [reservation]
    if reservation.dose_number == 1:
        second = courses.second_dose_of(session, reservation)
        if second is not None:
            found.append(second)
    else:
        first = courses.first_dose_of(session, reservation)
        if first is not None and first.status == ReservationStatus.CONFIRMED.value:
            found.insert(0, first)
    result = []
    for booking in found:
        slot = session.get(Slot, booking.slot_id)
        clinic = session.get(Clinic, booking.clinic_id)
        assert slot is not None and clinic is not None
        result.append(Appointment(booking, slot, clinic))
    return result


def has_dose_two(session: Session, reservation: Reservation) -> bool:
    """Whether this confirmed dose 1 has a dose 2 booked with it."""
    if reservation.dose_number != 1:
        return False
    return courses.second_dose_of(session, reservation) is not None
