"""Managing a booking: the manage link, look-up by code, cancel and reschedule."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, session, url_for

from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, Reservation, Slot
from booking.resident import bp
from booking.resident.find import clinic_day_context
from booking.services import moves, reservations
from booking.services.errors import (
    AdmissionNeeded,
    DomainError,
    InvalidInput,
    NotEligible,
    NotFound,
)
from booking.services.text import N_
from booking.services.tokens import format_code
from booking.services.validation import parse_date, parse_int
from booking.web import courses as course_pages
from booking.web.gate import admission_for_move, leave_after_booking


@bp.get("/manage/<token>")
def manage_link(token: str) -> Any:
    """Open a booking from the link in its confirmation, then drop the secret from the URL."""
    try:
        reservation = reservations.find_by_manage_token(db.session, token[:64])
    except NotFound:
        return render_template("lookup.html", values={}, errors={}, link_invalid=True), 404
    session["manage"] = reservation.id
    return redirect(url_for("resident.manage"), code=303)


@bp.route("/lookup", methods=["GET", "POST"])
def lookup() -> Any:
    """Find a booking by confirmation code and date of birth."""
    if request.method == "GET":
        return render_template("lookup.html", values={}, errors={})
    values = {"code": request.form.get("code", ""), "date_of_birth": request.form.get("dob", "")}
    errors: dict[str, str] = {}
    if not values["code"].strip():
        errors["code"] = N_("Enter the confirmation code.")
    if not values["date_of_birth"].strip():
        errors["dob"] = N_("Enter the date of birth.")
    if not errors:
        try:
            dob = parse_date(values["date_of_birth"], field="dob")
            reservation = reservations.find_by_code(db.session, values["code"][:32], dob)
        except InvalidInput as exc:
            errors.update(exc.errors)
        except NotFound as exc:
            errors["form"] = exc.detail
    if errors:
        return render_template("lookup.html", values=values, errors=errors), 422
    session["manage"] = reservation.id
    return redirect(url_for("resident.manage"), code=303)


def _managed() -> Reservation:
    reservation_id = session.get("manage")
    reservation = db.session.get(Reservation, reservation_id) if reservation_id else None
    if reservation is None or reservation.confirmation_code is None:
        abort(redirect(url_for("resident.lookup")))
    return reservation


def _manage_context(reservation: Reservation) -> dict[str, Any]:
    return {
        "reservation": reservation,
        "code": format_code(reservation.confirmation_code or ""),
        "slot": db.session.get(Slot, reservation.slot_id),
        "clinic": db.session.get(Clinic, reservation.clinic_id),
        "appointments": course_pages.appointments(db.session, reservation),
        "has_dose_two": course_pages.has_dose_two(db.session, reservation),
    }


@bp.get("/manage")
def manage() -> Any:
    """The booking: when and where, and the ways to change it."""
    return render_template("manage.html", **_manage_context(_managed()))


@bp.route("/manage/cancel", methods=["GET", "POST"])
def cancel() -> Any:
    """Ask to be sure, then cancel and give the place back."""
    reservation = _managed()
    if request.method == "GET":
        return render_template("cancel.html", values={}, errors={}, **_manage_context(reservation))
    values = {k: request.form.get(k, "")[:20] for k in ("dose_two", "dose_one_given_on")}
    try:
        given = _dose_one_given_on(reservation, values)
        db.transaction(
            lambda s: reservations.cancel_reservation(
                s, reservation.id, now=now(), notices=notice_policy(), dose_one_given_on=given
            )
        )
    except InvalidInput as exc:
        errors = dict(exc.errors) or {"form": exc.detail}
        # The service names the date "prior_dose_date"; on this form it is dose_one_given_on.
        if "prior_dose_date" in errors:
            errors["dose_one_given_on"] = errors.pop("prior_dose_date")
        context = _manage_context(reservation)
        return render_template("cancel.html", values=values, errors=errors, **context), 422
    except DomainError as exc:
        context = _manage_context(reservation)
        return render_template("manage.html", error=exc.detail, **context), exc.status
    return redirect(url_for("resident.manage", cancelled=1), code=303)


def _dose_one_given_on(reservation: Reservation, values: dict[str, str]) -> Any:
    """Cancelling dose 1 of a course: None cancels dose 2 too, a date keeps it."""
    if not course_pages.has_dose_two(db.session, reservation):
        return None
    choice = values["dose_two"]
    if choice == "cancel":
        return None
    if choice != "keep":
        message = N_("Choose what happens to dose 2.")
        raise InvalidInput(message, errors={"dose_two": message})
    return course_pages.parse_prior_date(values["dose_one_given_on"], field="dose_one_given_on")


def _chosen_slot_id() -> int:
    """The time the resident picked; anything that cannot be a slot id is an unknown time."""
    try:
        return parse_int(request.form.get("slot_id"), field="slot_id", low=1, high=2**31 - 1)
    except InvalidInput:
        raise NotFound(N_("No slot with that id.")) from None


@bp.route("/manage/reschedule", methods=["GET", "POST"])
def reschedule() -> Any:
    """Pick a new time at the same clinic; the new place is taken before the old is freed."""
    reservation = _managed()
    error: str | None = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            slot_id = _chosen_slot_id()
            course = course_pages.has_dose_two(db.session, reservation)
            if course and request.form.get("step") != "course":
                # A course: dose 2 is chosen again inside the new window before anything moves.
                return _course_step(reservation, slot_id, {}, 200)
            second = course_pages.parse_second_dose(request.form) if course else None
            # Within the clinic no admission is needed; another clinic passes the waiting room.
            gated, ticket = admission_for_move(api=False)
            moved = db.transaction(
                lambda s: moves.reschedule_reservation(
                    s,
                    reservation.id,
                    slot_id,
                    now=now(),
                    notices=notice_policy(),
                    require_admission=gated,
                    admission_ticket=ticket,
                    second_dose_slot_id=second,
                )
            )
            if ticket is not None and moved.admission_ticket == ticket:
                # Committed: the move to another clinic used the admission, as a booking would.
                leave_after_booking(ticket)
            return redirect(url_for("resident.manage", moved=1), code=303)
        except NotFound:
            error = N_("That time does not exist. Please choose another.")
        except AdmissionNeeded:
            # Through the waiting room, then back here to choose again.
            return redirect(url_for("waiting.join", next=url_for("resident.reschedule")), code=303)
        except NotEligible as exc:
            error = next(iter(exc.errors.values()), exc.detail)
        except DomainError as exc:
            error = exc.detail
            errors = exc.errors
        if request.form.get("step") == "course" and course_pages.FIELD in errors:
            try:
                return _course_step(reservation, slot_id, {"form": error, **errors}, 409)
            except NotFound:
                pass
    context = clinic_day_context(
        reservation.clinic_id, request.values.get("date"), reservation.service
    )
    current_slot = db.session.get(Slot, reservation.slot_id)
    return render_template(
        "reschedule.html",
        reservation=reservation,
        current_slot=current_slot,
        error=error,
        **context,
    ), (409 if error else 200)


def _course_step(
    reservation: Reservation, slot_id: int, errors: dict[str, str], status: int
) -> Any:
    """The new time for dose 1, and dose 2's times inside the window it opens."""
    new_slot = db.session.get(Slot, slot_id)
    if new_slot is None or new_slot.clinic_id != reservation.clinic_id:
        raise NotFound(N_("No slot with that id."))
    appointments = course_pages.appointments(db.session, reservation)
    current_two = appointments[1].slot if len(appointments) > 1 else None
    choice = course_pages.dose_two_choice(db.session, new_slot, now=now(), keep=current_two)
    clinic = db.session.get(Clinic, new_slot.clinic_id)
    assert clinic is not None
    values = {course_pages.FIELD: request.form.get(course_pages.FIELD, "")[:20]}
    page = render_template(
        "reschedule_course.html",
        reservation=reservation,
        new_slot=new_slot,
        clinic=clinic,
        appointments=appointments,
        dose_two=choice,
        dose_two_days=course_pages.options_by_day(choice, clinic) if choice else [],
        values=values,
        errors=errors,
    )
    return page, status
