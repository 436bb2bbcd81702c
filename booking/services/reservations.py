"""Confirming a hold, cancelling and finding a reservation (moving one: ``moves``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from booking.models import (
    BOOKED_STATUSES,
    LOCALES,
    Channel,
    Clinic,
    Reservation,
    ReservationStatus,
    Slot,
    VaccineProduct,
)
from booking.services import courses, eligibility, statements
from booking.services.eligibility import EligibilityAnswers
from booking.services.errors import (
    AdmissionSpent,
    AlreadyBooked,
    Conflict,
    DomainError,
    HoldExpired,
    InvalidInput,
    NotEligible,
    NotFound,
)
from booking.services.holds import (
    ADMISSION_SPENT,
    admission_bookings,
    refuse_spent_admission,
    release_hold,
)
from booking.services.notices import (
    DEFAULT_NOTICES,
    NoticePolicy,
    booking_cancelled,
    booking_confirmed,
)
from booking.services.people import Person as Person  # re-exported: callers import it here
from booking.services.slot_counts import Counter, adjust
from booking.services.text import N_
from booking.services.tokens import (
    manage_token_for,
    new_confirmation_code,
    normalize_code,
    token_hash,
)

CONFIRMED = ReservationStatus.CONFIRMED.value
_CODE_ATTEMPTS = 5
MIN_OVERRIDE_REASON = 10  # characters of an agent's reason to book someone the rules refuse


@dataclass(frozen=True)
class Confirmation:
    """A confirmed reservation and the secret for its manage link (never stored in clear)."""

    reservation: Reservation
    manage_token: str
    replayed: bool
    second_dose: Reservation | None = None
    # The rules' refusal an agent's override set aside (None: the person was eligible).
    overridden: NotEligible | None = None
    # Held here so the session's (weak) identity map keeps it for whatever the caller shows.
    product: VaccineProduct | None = None
    # The booked slot and its clinic's time zone, as read when confirming.
    slot: Slot | None = None
    timezone: str | None = None


def confirm_hold(
    session: Session,
    hold_token: str,
    person: Person,
    *,
    answers: EligibilityAnswers,
    admission_ticket: str | None,
    now: datetime,
    secret_key: str,
    channel: Channel | None = None,
    notices: NoticePolicy = DEFAULT_NOTICES,
    override_reason: str | None = None,
    companion: bool = False,
    second_dose_slot_id: int | None = None,
    prior_dose_date: date | None = None,
) -> Confirmation:
    """Turn a live hold into a confirmed reservation; confirming again returns the same one.

    ``admission_ticket`` is the admission the request presented (None: queue off, or staff).
    A hold placed under an admission is confirmed only under that same admission, once (and
    once more with ``companion`` where the state allows it: the caller decides that). The
    rules are checked for every channel; a refusal (``NotEligible``, ``AdmissionSpent``)
    releases the hold and says ``keeps_work``, so ``db.transaction`` commits the release before
    answering the error. ``override_reason`` (2-1-1 agents only) books despite the rules; the
    refusal it overrode comes back in ``Confirmation.overridden`` for the caller's audit.

    Dose 1 of a two-dose product books dose 2 with it (``booking.services.courses``): at
    ``second_dose_slot_id``, or by default at the same time of day on the interval day.
    ``prior_dose_date`` books the hold as "dose 2 only" (dose 1 given elsewhere that day).
    """
    # The second-booking check, the slot, product and zone ride on the locking SELECT.
    dose = 2 if prior_dose_date is not None else 1
    row = session.execute(
        statements.lock_hold(), {"hold_token": hold_token, "person_key": person.key, "dose": dose}
    ).one_or_none()
    if row is None:
        raise NotFound(N_("No hold with that id."))
    reservation, slot, product, timezone, other_booking = row
    manage_token = manage_token_for(secret_key, hold_token)
    if reservation.status in BOOKED_STATUSES:
        # A double click, a retried request or an Idempotency-Key replay: same answer again.
        if reservation.person_key == person.key:
            second = courses.second_dose_of(session, reservation)
            return Confirmation(
                reservation,
                manage_token,
                replayed=True,
                second_dose=second,
                product=product,
                slot=slot,
                timezone=timezone,
            )
        raise Conflict(N_("This hold has already been confirmed for someone else."))
    if reservation.status == ReservationStatus.CANCELLED:
        raise Conflict(N_("This hold was released. Please choose a time again."))
    if reservation.status == ReservationStatus.EXPIRED or reservation.hold_expires_at <= now:
        raise HoldExpired(N_("Your hold on this time ran out. Please choose a time again."))
    if admission_ticket is not None and admission_ticket != reservation.admission_ticket:
        # Another client's admission: not this hold's to confirm (nor to release).
        raise Conflict(N_("This hold was placed by another visitor."))
    if reservation.admission_ticket:
        _refuse_unless_unspent(session, reservation, companion=companion, now=now)
    if other_booking is not None:
        # A booking committed meanwhile is caught by the unique index below, to the same answer.
        raise AlreadyBooked(_ALREADY_BOOKED)
    appointment = eligibility.appointment_at(
        reservation.service, slot.starts_at, timezone, product, now=now
    )
    overridden = _check_rules(
        session, reservation, person, answers, override_reason, appointment, now=now
    )

    for _attempt in range(_CODE_ATTEMPTS):
        try:
            # A savepoint: losing a race on a unique index leaves the hold exactly as it was.
            with session.begin_nested():
                # Two-dose courses: dose 2 with dose 1 in this savepoint, or neither.
                if prior_dose_date is not None:
                    courses.as_second_dose_only(session, reservation, prior_dose_date, now=now)
                values = _confirmed_values(
                    reservation,
                    person,
                    now=now,
                    manage_token=manage_token,
                    companion=companion,
                    locale=notices.locale,
                    channel=channel,
                )
                _book(session, reservation, slot, values)
                second = courses.book_second_dose(
                    session, reservation, slot, second_dose_slot_id, now=now
                )
            # The confirmation and reminders commit with the booking, or not at all.
            booking_confirmed(session, reservation, slot, now=now, policy=notices, second=second)
            return Confirmation(
                reservation,
                manage_token,
                replayed=False,
                second_dose=second,
                overridden=overridden,
                product=product,
                slot=slot,
                timezone=timezone,
            )
        except IntegrityError as exc:
            session.expire(reservation)
            message = str(exc.orig)
            if "admission_ticket" in message:
                # A concurrent confirm under the same admission won: it is spent now.
                _release_and_raise(session, reservation, AdmissionSpent(ADMISSION_SPENT), now)
            if "confirmation_code" not in message:
                raise AlreadyBooked(_ALREADY_BOOKED) from None
    raise Conflict(
        N_("Could not allocate a confirmation code; please try again.")
    )  # pragma: no cover


def valid_override(reason: str | None) -> bool:
    """Whether an agent's reason is long enough to set the rules aside."""
    return reason is not None and len(reason.strip()) >= MIN_OVERRIDE_REASON


def _release_and_raise(
    session: Session, reservation: Reservation, error: DomainError, now: datetime
) -> NoReturn:
    """Give the hold's place back, then raise ``error`` with the release to be committed."""
    release_hold(session, reservation.hold_token, now=now, missing_ok=True)
    error.keeps_work = True
    raise error


def _refuse_unless_unspent(
    session: Session, reservation: Reservation, *, companion: bool, now: datetime
) -> None:
    """One admission, one booking: refuse (releasing the hold) a spent admission's confirm."""
    assert reservation.admission_ticket is not None
    bookings = admission_bookings(session, reservation.admission_ticket)
    try:
        refuse_spent_admission(bookings, companion_allowed=companion, companion=companion)
        if companion and not bookings:
            raise InvalidInput(
                N_("A companion is booked after the main booking."),
                errors={"companion": N_("Book the first person without this option.")},
            )
        if companion and not _same_visit(session, bookings[0], reservation):
            raise InvalidInput(
                N_("A companion is booked at the same clinic on the same day."),
                errors={"companion": N_("Choose a time at the same clinic on the same day.")},
            )
    except DomainError as exc:
        _release_and_raise(session, reservation, exc, now)


def _same_visit(session: Session, first: Reservation, hold: Reservation) -> bool:
    """Whether a hold is at the first booking's clinic on its local day."""
    if first.clinic_id != hold.clinic_id:
        return False
    clinic = session.get(Clinic, first.clinic_id)
    old, new = session.get(Slot, first.slot_id), session.get(Slot, hold.slot_id)
    assert clinic is not None and old is not None and new is not None
    zone = ZoneInfo(clinic.timezone)
    return old.starts_at.astimezone(zone).date() == new.starts_at.astimezone(zone).date()


def _check_rules(
    session: Session,
    reservation: Reservation,
    person: Person,
    answers: EligibilityAnswers,
    override_reason: str | None,
    appointment: eligibility.Appointment,
    *,
    now: datetime,
) -> NotEligible | None:
    """Refuse (releasing the hold) whom the rules exclude, unless an agent overrides them."""
    try:
        eligibility.check_booking(session, appointment, person.date_of_birth, answers)
    except NotEligible as refusal:
        if valid_override(override_reason):
            return refusal
        _release_and_raise(session, reservation, refusal, now)
    return None


_ALREADY_BOOKED = N_(
    "This person already has an appointment for this vaccine. Use the manage link in the "
    "confirmation, or look it up with the code and date of birth, to change it."
)


def _confirmed_values(
    reservation: Reservation,
    person: Person,
    *,
    now: datetime,
    manage_token: str,
    companion: bool,
    locale: str,
    channel: Channel | None,
) -> dict[str, Any]:
    """What confirming writes on the hold's row (``statements.CONFIRM_COLUMNS``)."""
    return {
        "status": CONFIRMED,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "date_of_birth": person.date_of_birth,
        "person_key": person.key,
        "phone": person.phone,
        "email": person.email,
        "eligibility_attested": person.eligibility_attested,
        "confirmation_code": new_confirmation_code(),
        "manage_token_hash": token_hash(manage_token),
        "confirmed_at": now,
        "updated_at": now,
        "companion": companion,
        # Booked in the language of the page (or the caller's, for an agent's booking).
        "locale": locale if locale in LOCALES else "en",
        "channel": channel.value if channel is not None else reservation.channel,
        # "Dose 2 only" (``courses.as_second_dose_only``) or as held.
        "dose_number": reservation.dose_number,
        "prior_dose_date": reservation.prior_dose_date,
    }


def _book(session: Session, reservation: Reservation, slot: Slot, values: dict[str, Any]) -> None:
    """Book the hold's place and fill the hold with prebuilt Core statements, no flush.

    The loaded hold and slot take the written values as their committed state (no history),
    so the unit of work has nothing to write for them at commit.
    """
    postgresql = session.get_bind().dialect.name == "postgresql"
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(held_slot_id=slot.id, reservation_id=reservation.id)
    book, *fill = statements.confirm_booking(postgresql)
    # No autoflush: a "dose 2 only" hold's changed attributes are written by these statements.
    with session.no_autoflush:
        counts = session.execute(book, params).one()
        for statement in fill:
            session.execute(statement, params)
    for name, value in values.items():
        set_committed_value(reservation, name, value)
    set_committed_value(slot, "held", counts.held)
    set_committed_value(slot, "booked", counts.booked)


def find_by_code(session: Session, code: str, date_of_birth: date | None) -> Reservation:
    """Find a reservation by code and birth date; any mismatch looks like an unknown code."""
    normalized = normalize_code(code)
    reservation = None
    if normalized and date_of_birth is not None:
        reservation = session.scalars(
            select(Reservation).where(Reservation.confirmation_code == normalized)
        ).one_or_none()
    if reservation is None or reservation.date_of_birth != date_of_birth:
        raise NotFound(N_("We could not find a reservation with that code and date of birth."))
    return reservation


def find_by_manage_token(session: Session, manage_token: str) -> Reservation:
    """Find a reservation from the secret in its manage link."""
    reservation = session.scalars(
        select(Reservation).where(Reservation.manage_token_hash == token_hash(manage_token))
    ).one_or_none()
    if reservation is None:
        raise NotFound(N_("This link is not valid. Look your appointment up by code instead."))
    return reservation


def lock_reservation(session: Session, reservation_id: int) -> Reservation:
    """The reservation, locked for this transaction and read afresh."""
    locked = session.scalars(
        select(Reservation)
        .where(Reservation.id == reservation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return locked


def cancel_reservation(
    session: Session,
    reservation_id: int,
    *,
    now: datetime,
    notices: NoticePolicy = DEFAULT_NOTICES,
    dose_one_given_on: date | None = None,
) -> Reservation:
    """Cancel a confirmed reservation and return its place; cancelling twice is harmless.

    Cancelling dose 1 of a course cancels its dose 2 too, unless ``dose_one_given_on`` says
    dose 1 is given elsewhere: dose 2 then stays as "dose 2 only" (``courses``).
    """
    reservation = lock_reservation(session, reservation_id)
    if reservation.status == ReservationStatus.CANCELLED:
        return reservation
    if reservation.status != CONFIRMED:
        raise Conflict(N_("Only a confirmed appointment can be cancelled."))
    # A course: dose 2 goes too, or stays as "dose 2 only" (checked before anything changes).
    second = courses.cancel_second_dose(
        session, reservation, now=now, dose_one_given_on=dose_one_given_on
    )
    reservation.status = ReservationStatus.CANCELLED.value
    reservation.cancelled_at = now
    reservation.updated_at = now
    session.flush()
    adjust(session, reservation.slot_id, Counter.BOOKED, -1)
    slot = session.get(Slot, reservation.slot_id)
    assert slot is not None
    booking_cancelled(session, reservation, slot, now=now, policy=notices, second=second)
    return reservation
