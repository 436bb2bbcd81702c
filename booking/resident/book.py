"""Holding a time, filling in the details, and the confirmation page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.messages.qr import qr_png
from booking.messages.render import booking_calendar, public_url
from booking.models import Clinic, Reservation, ReservationStatus, Slot
from booking.resident import bp
from booking.services import eligibility, holds, reservations
from booking.services.errors import (
    AdmissionSpent,
    DomainError,
    HoldExpired,
    InvalidInput,
    NotEligible,
    NotFound,
)
from booking.services.slot_links import slot_page_query_for
from booking.services.tokens import format_code, manage_token_again
from booking.services.validation import parse_birth_date
from booking.web import courses as course_pages
from booking.web.gate import (
    Admission,
    AdmissionRequired,
    QueueUnavailable,
    forget_spent_admission,
    leave_after_booking,
    require_admission,
    try_auto_admit,
)
from booking.web.waiting import unavailable_page


def _slot_page(slot: Slot) -> str:
    """The clinic page offering this slot on its day, for its vaccine (a deep link's page).

    Whoever is sent away from a hold (to the waiting room, or to give a date of birth) comes
    back to it, so a deep link's day, vaccine and time survive the detour.
    """
    query = slot_page_query_for(db.session, slot)
    return f"{url_for('resident.clinic', clinic_id=slot.clinic_id)}?{query}"


def _admitted(next_url: str | Callable[[], str]) -> Admission | Any:
    """Pass admitted visitors; in auto mode admit at once if there is room; else the line.

    ``next_url`` (or the function giving it, called only when needed) is where the line
    leads back to.
    """
    try:
        return require_admission(api=False)
    except AdmissionRequired:
        try:
            admission = try_auto_admit()
        except QueueUnavailable:
            return unavailable_page()
        if admission is not None:
            return admission
        back = next_url if isinstance(next_url, str) else next_url()
        return redirect(url_for("waiting.join", next=back), code=303)
    except QueueUnavailable:
        return unavailable_page()


FORM_FIELDS = ("first_name", "last_name", "date_of_birth", "phone", "email")
ANSWER_FIELDS = ("resident", "has_condition")
DOB_KEY = "dob"  # the date of birth asked before choosing a time, ISO, in the session
DOSE_TWO_KEY = "dose_two_only"  # {"hold": token, "date": ISO}: dose 1 was given elsewhere


def session_birth_date() -> date | None:
    """The date of birth this browser gave before choosing a time, if any."""
    raw = session.get(DOB_KEY)
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def remember_birth_date(raw: object) -> date:
    """Validate a date of birth and keep it in the session for the hold and the form."""
    born = parse_birth_date(raw, today=now().date())
    session[DOB_KEY] = born.isoformat()
    return born


def _refused(message: str, status: int, *, clinic_id: int | None, rejoin: bool) -> Any:
    """A time that could not be held or booked, why, and where to go next."""
    if rejoin:
        forget_spent_admission()
    page = render_template("not_bookable.html", message=message, clinic_id=clinic_id, rejoin=rejoin)
    return page, status


@bp.post("/slots/<int(max=2147483647):slot_id>/hold")
def hold_slot(slot_id: int) -> Any:
    """Hold the chosen time for this visitor, giving back any time they held before."""
    slot = db.session.get(Slot, slot_id)
    if slot is None:
        abort(404)
    admission = _admitted(lambda: _slot_page(slot))
    if not isinstance(admission, Admission):
        return admission
    born = session_birth_date()
    if request.form.get("date_of_birth"):
        try:
            born = remember_birth_date(request.form["date_of_birth"][:20])
        except InvalidInput:
            born = None
    if born is None:
        # Asked first, so nobody holds a place the rules would not let them book.
        return redirect(f"{_slot_page(slot)}&dob=ask", code=303)
    current = session.get("hold")
    try:
        reservation = db.transaction(
            lambda s: holds.place_hold(
                s,
                slot_id,
                now=now(),
                hold_minutes=current_app.config["HOLD_MINUTES"],
                replace_hold=current,
                admission_ticket=admission.ticket,
                date_of_birth=born,
                companion_allowed=current_app.config["COMPANION_BOOKING"],
            )
        )
    except NotFound:
        abort(404)
    except NotEligible as exc:
        message = exc.errors.get("date_of_birth") or exc.detail
        return _refused(message, exc.status, clinic_id=slot.clinic_id, rejoin=False)
    except AdmissionSpent as exc:
        return _refused(exc.detail, exc.status, clinic_id=None, rejoin=True)
    except DomainError as exc:
        return render_template("slot_taken.html", message=exc.detail, slot=slot), exc.status
    session["hold"] = reservation.hold_token
    _remember_dose_one(reservation.hold_token)
    return redirect(url_for("resident.book", hold_id=reservation.hold_token), code=303)


def _remember_dose_one(hold_token: str) -> None:
    """A time chosen on the "dose 2 only" page carries the date of dose 1 to the form."""
    session.pop(DOSE_TWO_KEY, None)
    raw = request.form.get(course_pages.PRIOR_FIELD)
    if raw:
        try:
            given = course_pages.parse_prior_date(raw)
        except InvalidInput:
            return  # the booking form asks nothing more: this booking is then dose 1
        session[DOSE_TWO_KEY] = {"hold": hold_token, "date": given.isoformat()}


def _dose_one_elsewhere(hold_token: str) -> date | None:
    """The date dose 1 was given elsewhere, when this hold is "dose 2 only"."""
    kept = session.get(DOSE_TWO_KEY)
    if not isinstance(kept, dict) or kept.get("hold") != hold_token:
        return None
    try:
        return date.fromisoformat(str(kept.get("date")))
    except ValueError:
        return None


def _own_hold(hold_id: str) -> Reservation:
    # A hold belongs to the browser that placed it: a copied link does not carry it elsewhere.
    if session.get("hold") != hold_id:
        abort(404)
    try:
        return holds.find_hold(db.session, hold_id)
    except NotFound:
        abort(404)


def _book_page(
    reservation: Reservation,
    values: Any,
    errors: dict[str, str],
    status: int,
    *,
    released: bool = False,
) -> Any:
    slot = db.session.get(Slot, reservation.slot_id)
    clinic = db.session.get(Clinic, reservation.clinic_id)
    remaining = max(0, int((reservation.hold_expires_at - now()).total_seconds()))
    assert slot is not None and clinic is not None
    prior = _dose_one_elsewhere(reservation.hold_token)
    choice = course_pages.dose_two_choice(db.session, slot, now=now(), first_dose_day=prior)
    return (
        render_template(
            "book.html",
            reservation=reservation,
            slot=slot,
            clinic=clinic,
            values=values,
            errors=errors,
            remaining_seconds=remaining,
            released=released,
            prior_dose_date=prior,
            dose_two=None if prior else choice,
            dose_two_days=course_pages.options_by_day(choice, clinic) if choice else [],
        ),
        status,
    )


def _is_companion(ticket: str | None) -> bool:
    """With companions allowed, an admission that has booked books its companion next."""
    if not ticket or not current_app.config["COMPANION_BOOKING"]:
        return False
    return bool(holds.admission_bookings(db.session, ticket))


@bp.route("/book/<hold_id>", methods=["GET", "POST"])
def book(hold_id: str) -> Any:
    """The details form for a held time; on success, confirm and show the code."""
    reservation = _own_hold(hold_id)
    if reservation.status == ReservationStatus.CONFIRMED:
        return redirect(url_for("resident.confirmation"), code=303)
    expired = reservation.status != ReservationStatus.HELD or reservation.hold_expires_at <= now()
    if expired:
        return _expired(reservation)
    if request.method == "GET":
        born = session_birth_date()
        # The date of birth given before choosing the time, so it is not asked twice.
        prefill = {"date_of_birth": born.strftime("%m/%d/%Y")} if born else {}
        return _book_page(reservation, prefill, {}, 200)
    admission = _admitted(url_for("resident.book", hold_id=hold_id))
    if not isinstance(admission, Admission):
        return admission

    values: dict[str, str | None] = {name: request.form.get(name, "") for name in FORM_FIELDS}
    values["eligibility_attested"] = request.form.get("eligibility_attested")
    for name in ANSWER_FIELDS:
        values[name] = request.form.get(name)
    values[course_pages.FIELD] = request.form.get(course_pages.FIELD, "")[:20]
    prior = _dose_one_elsewhere(hold_id)
    try:
        person, answers = eligibility.parse_booking_details(
            values, today=now().date(), require_attestation=True
        )
        second_dose = course_pages.parse_second_dose(request.form)
        companion = _is_companion(admission.ticket)
        done = db.transaction(
            lambda s: reservations.confirm_hold(
                s,
                hold_id,
                person,
                answers=answers,
                admission_ticket=admission.ticket,
                now=now(),
                secret_key=current_app.config["SECRET_KEY"],
                notices=notice_policy(),
                companion=companion,
                second_dose_slot_id=None if prior else second_dose,
                prior_dose_date=prior,
            )
        )
    except AdmissionSpent as exc:
        session.pop("hold", None)
        return _refused(exc.detail, exc.status, clinic_id=None, rejoin=True)
    except InvalidInput as exc:
        if not exc.keeps_work:
            return _book_page(reservation, values, exc.errors or {"form": exc.detail}, 422)
        # Refused by the rules: the time went back to the pool, so the form cannot be sent again.
        session.pop("hold", None)
        errors = {"form": exc.detail, **exc.errors}
        return _book_page(reservation, values, errors, 422, released=True)
    except HoldExpired:
        return _expired(reservation)
    except DomainError as exc:
        # e.g. dose 2's time taken meanwhile: nothing was booked, the form again with why.
        return _book_page(reservation, values, {"form": exc.detail, **exc.errors}, exc.status)
    session.pop(DOSE_TWO_KEY, None)
    # Committed: the admission that placed this hold is used up, so its place goes to the next.
    leave_after_booking(done.reservation.admission_ticket)
    # The signed (not encrypted) cookie keeps which booking, never its manage token: the page
    # derives the token again from the booking when it shows the link.
    session["confirmed"] = {"id": done.reservation.id}
    session["manage"] = done.reservation.id
    return redirect(url_for("resident.confirmation"), code=303)


def _expired(reservation: Reservation) -> Any:
    session.pop("hold", None)
    return render_template("hold_expired.html", clinic_id=reservation.clinic_id), 410


@bp.post("/book/<hold_id>/release")
def release(hold_id: str) -> Any:
    """Give the held time back and return to the clinic's times."""
    reservation = _own_hold(hold_id)
    db.transaction(lambda s: holds.release_hold(s, hold_id, now=now(), missing_ok=True))
    session.pop("hold", None)
    return redirect(url_for("resident.clinic", clinic_id=reservation.clinic_id), code=303)


@bp.get("/confirmation")
def confirmation() -> Any:
    """The code, the place and time, and the manage link of what was just booked."""
    confirmed = session.get("confirmed")
    if not confirmed:
        return redirect(url_for("resident.lookup"))
    reservation = _just_booked()
    slot = db.session.get(Slot, reservation.slot_id)
    clinic = db.session.get(Clinic, reservation.clinic_id)
    token = manage_token_again(
        current_app.config["SECRET_KEY"], reservation.hold_token, reservation.manage_token_hash
    )
    manage_url = public_url("resident.manage_link", token=token) if token else None
    return render_template(
        "confirmation.html",
        reservation=reservation,
        code=format_code(reservation.confirmation_code or ""),
        slot=slot,
        clinic=clinic,
        manage_url=manage_url,
        appointments=course_pages.appointments(db.session, reservation),
    )


def _just_booked() -> Reservation:
    """The booking this browser has just made (its confirmation page and files)."""
    confirmed = session.get("confirmed")
    found = db.session.get(Reservation, confirmed["id"]) if isinstance(confirmed, dict) else None
    if found is None:
        abort(404)
    return found


@bp.get("/confirmation/appointment.ics")
def confirmation_calendar() -> Any:
    """The appointments just booked as a calendar file (a course: both doses)."""
    reservation = _just_booked()
    bookings = [
        (a.reservation, a.slot, a.clinic)
        for a in course_pages.appointments(db.session, reservation)
    ]
    body = booking_calendar(
        db.session, bookings, change_url=public_url("resident.lookup"), now=now()
    )
    headers = {"Content-Disposition": 'attachment; filename="appointment.ics"'}
    return Response(body, mimetype="text/calendar", headers=headers)


@bp.get("/confirmation/code.png")
def confirmation_qr() -> Any:
    """The confirmation code as a QR code, for the clinic's scanner."""
    reservation = _just_booked()
    png = qr_png(reservation.confirmation_code or "")  # as in the messages: the plain code
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})
