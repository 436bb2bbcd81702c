"""Booking for a caller: their details, the eligibility check (or a reasoned override), the code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext
from sqlalchemy.orm import Session

from booking.agent import bp
from booking.agent.common import (
    ROLES,
    audit_view,
    booking_context,
    confirmation_sms,
    known_reservation,
    remember,
)
from booking.agent.search import HOLD_KEY, back_to_search
from booking.clock import now
from booking.db import db
from booking.i18n import LANGUAGES, current_locale
from booking.messages.policy import notice_policy
from booking.models import Channel, Clinic, Reservation, ReservationStatus, Slot
from booking.services import agent as agent_service
from booking.services import eligibility, holds, outbox, reservations
from booking.services.errors import DomainError, HoldExpired, InvalidInput, NotEligible, NotFound
from booking.services.people import Person
from booking.services.validation import parse_person
from booking.web import courses as course_pages
from booking.web.access import audit, staff_route

FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "phone",
    "email",
    "resident",
    "has_condition",
    "override_reason",
    "caller_language",
    "second_dose_slot_id",
    "prior_dose_date",
)


def _own_hold(hold_id: str) -> Reservation:
    # The hold this agent placed on this sign-in; a copied link opens nothing elsewhere.
    if session.get(HOLD_KEY) != hold_id[:64]:
        abort(404)
    try:
        reservation = holds.find_hold(db.session, hold_id)
    except NotFound:
        abort(404)
    if reservation.channel != Channel.AGENT.value:
        abort(404)
    return reservation


def _details_page(
    reservation: Reservation,
    values: Any,
    errors: dict[str, str],
    status: int = 200,
    refusal: dict[str, str] | None = None,
) -> Any:
    slot = db.session.get(Slot, reservation.slot_id)
    clinic = db.session.get(Clinic, reservation.clinic_id)
    assert slot is not None and clinic is not None
    # Agents see every place, the phone set-aside too (online=False), as for dose 1.
    choice = course_pages.dose_two_choice(db.session, slot, now=now(), online=False)
    return render_template(
        "agent/details.html",
        reservation=reservation,
        slot=slot,
        clinic=clinic,
        dose_two=choice,
        dose_two_days=course_pages.options_by_day(choice, clinic) if choice else [],
        values=values,
        errors=errors,
        refusal=refusal,
        min_reason=agent_service.MIN_OVERRIDE_REASON,
        back_url=back_to_search(),
        languages=LANGUAGES,
        caller_language=values.get("caller_language") or current_locale(),
    ), status


def _expired(reservation: Reservation) -> Any:
    session.pop(HOLD_KEY, None)
    page = render_template(
        "agent/message.html",
        title=gettext("The hold ran out"),
        message=gettext(
            "The hold on this time ran out and the place went back. Choose a time again."
        ),
        back_url=back_to_search(),
    )
    return page, 410


def _parse_caller(values: dict[str, str]) -> tuple[Person | None, dict[str, str]]:
    errors: dict[str, str] = {}
    person = None
    try:
        person = parse_person(values, today=now().date(), require_attestation=False)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if not values["phone"].strip():
        errors["phone"] = gettext("Enter the caller's phone number: the code is texted there.")
    if values["resident"] not in ("yes", "no"):
        errors["resident"] = gettext("Ask the caller and choose yes or no.")
    if values["caller_language"] not in LANGUAGES:
        errors["caller_language"] = gettext("Choose the language the caller wants messages in.")
    return person, errors


def _answers(values: dict[str, str]) -> eligibility.EligibilityAnswers:
    return eligibility.EligibilityAnswers(
        values["resident"] == "yes", values["has_condition"] in ("yes", "1", "on")
    )


def _refusal(reservation: Reservation, person: Person, values: dict[str, str]) -> dict[str, str]:
    """Why the rules refuse this caller (empty if eligible): the same check the booking runs.

    Asked first so the agent can write an override reason while the hold is kept; the booking
    service checks again, and releases the hold if the rules refuse and no reason was given.
    """
    appointment = eligibility.appointment_of(db.session, reservation.slot_id, now=now())
    try:
        eligibility.check_booking(db.session, appointment, person.date_of_birth, _answers(values))
    except NotEligible as exc:
        return exc.errors or {"service": exc.detail}
    return {}


def _course_choice(values: dict[str, str]) -> tuple[int | None, date | None]:
    """Dose 2's time, or the date dose 1 was given elsewhere ("dose 2 only"), from the form."""
    if values["prior_dose_date"].strip():
        return None, course_pages.parse_prior_date(values["prior_dose_date"])
    return course_pages.parse_second_dose(values), None


@bp.route("/holds/<hold_id>", methods=["GET", "POST"])
@staff_route(*ROLES)
def details(hold_id: str) -> Any:
    """The caller's details; eligible, or overridden with a written reason, books the time."""
    reservation = _own_hold(hold_id)
    if reservation.status in (ReservationStatus.CONFIRMED, ReservationStatus.CHECKED_IN):
        remember(reservation.id)
        return redirect(url_for("agent.booked", reservation_id=reservation.id), code=303)
    if reservation.status != ReservationStatus.HELD or reservation.hold_expires_at <= now():
        return _expired(reservation)
    if request.method == "GET":
        return _details_page(reservation, {}, {})
    values = {name: request.form.get(name, "")[:500] for name in FIELDS}
    # Not chosen (an older form, a script): the caller speaks the language of this page.
    values["caller_language"] = values["caller_language"] or current_locale()
    person, errors = _parse_caller(values)
    try:
        second_dose, prior = _course_choice(values)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if person is None or errors:
        return _details_page(reservation, values, errors, 422)
    refusal = _refusal(reservation, person, values)
    reason = agent_service.override_reason(values["override_reason"]) if refusal else None
    if refusal and reason is None:
        errors = {}
        if values["override_reason"].strip():
            errors["override_reason"] = gettext(
                "Write at least %(num)d characters on why this caller should be booked anyway.",
                num=agent_service.MIN_OVERRIDE_REASON,
            )
        return _details_page(reservation, values, errors, 422, refusal=refusal)
    eligible = replace(person, eligibility_attested=not refusal)

    def work(s: Session) -> reservations.Confirmation:
        done = reservations.confirm_hold(
            s,
            hold_id,
            eligible,
            answers=_answers(values),
            admission_ticket=None,  # agents never queue
            override_reason=reason,
            now=now(),
            secret_key=current_app.config["SECRET_KEY"],
            channel=Channel.AGENT,
            # The caller's messages go out in the language they asked for, not the agent's.
            notices=replace(notice_policy(), locale=values["caller_language"]),
            second_dose_slot_id=second_dose,
            prior_dose_date=prior,
        )
        if done.replayed:
            return done
        booked = done.reservation
        where = {
            "record_type": "reservation",
            "record_id": booked.id,
            "clinic_id": booked.clinic_id,
        }
        overridden = done.overridden
        if overridden is not None:
            refused = overridden.errors or {"service": overridden.detail}
            detail = {
                "reason": reason,
                "rule": overridden.rule,
                "refused": refused,
                "service": booked.service,
            }
            audit("agent.eligibility_override", **where, detail=detail)
        override = overridden is not None
        second = done.second_dose.slot_id if done.second_dose else None
        booked_detail = {"slot_id": booked.slot_id, "override": override, "second_slot_id": second}
        audit("agent.book", **where, detail=booked_detail)
        return done

    try:
        done = db.transaction(work)
    except HoldExpired:
        return _expired(reservation)
    except NotEligible as exc:
        # The rules changed between the check and the booking: the hold went back.
        session.pop(HOLD_KEY, None)
        return _details_page(
            reservation, values, {}, 422, refusal=exc.errors or {"form": exc.detail}
        )
    except InvalidInput as exc:
        return _details_page(reservation, values, exc.errors or {"form": exc.detail}, 422)
    except DomainError as exc:
        # e.g. dose 2's time taken meanwhile: nothing booked, the form again with the reason.
        errors = {"form": exc.detail, **exc.errors}
        return _details_page(reservation, values, errors, exc.status)
    session.pop(HOLD_KEY, None)
    remember(done.reservation.id)
    return redirect(url_for("agent.booked", reservation_id=done.reservation.id), code=303)


@bp.post("/holds/<hold_id>/release")
@staff_route(*ROLES)
def release(hold_id: str) -> Any:
    """Give the held time back (the caller wants another) and return to the search."""
    reservation = _own_hold(hold_id)

    def work(s: Session) -> None:
        holds.release_hold(s, hold_id, now=now(), missing_ok=True)
        audit(
            "agent.release_hold",
            record_type="reservation",
            record_id=reservation.id,
            clinic_id=reservation.clinic_id,
        )

    db.transaction(work)
    session.pop(HOLD_KEY, None)
    return redirect(back_to_search(), code=303)


@bp.get("/reservations/<int(max=2147483647):reservation_id>/booked")
@staff_route(*ROLES)
def booked(reservation_id: int) -> Any:
    """The code, large and spelled out to read back to the caller, and the text message."""
    reservation = known_reservation(reservation_id)
    audit_view(reservation, "confirmation")
    return render_template(
        "agent/booked.html", back_url=back_to_search(), **booking_context(reservation)
    )


@bp.post("/reservations/<int(max=2147483647):reservation_id>/sms")
@staff_route(*ROLES)
def resend_sms(reservation_id: int) -> Any:
    """Send the confirmation text again after it failed (sending it is otherwise automatic)."""
    reservation = known_reservation(reservation_id)
    message = confirmation_sms(reservation.id)
    if message is None:
        abort(404)
    message_id = message.id

    def work(s: Session) -> None:
        outbox.retry_failed(s, message_id, now=now())
        audit(
            "agent.resend_sms",
            record_type="reservation",
            record_id=reservation.id,
            clinic_id=reservation.clinic_id,
            detail={"message_id": message_id},
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        context = booking_context(reservation)
        page = render_template(
            "agent/booked.html", error=exc.detail, back_url=back_to_search(), **context
        )
        return page, exc.status
    return redirect(url_for("agent.booked", reservation_id=reservation.id, resent=1), code=303)
