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
from booking.services import reservations
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
from booking.web.gate import admission_for_move


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
        return render_template("cancel.html", **_manage_context(reservation))
    try:
        db.transaction(
            lambda s: reservations.cancel_reservation(
                s, reservation.id, now=now(), notices=notice_policy()
            )
        )
    except DomainError as exc:
        context = _manage_context(reservation)
        return render_template("manage.html", error=exc.detail, **context), exc.status
    return redirect(url_for("resident.manage", cancelled=1), code=303)


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
    if request.method == "POST":
        try:
            slot_id = _chosen_slot_id()
            # Within the clinic no admission is needed; another clinic passes the waiting room.
            gated, ticket = admission_for_move(api=False)
            db.transaction(
                lambda s: reservations.reschedule_reservation(
                    s,
                    reservation.id,
                    slot_id,
                    now=now(),
                    notices=notice_policy(),
                    require_admission=gated,
                    admission_ticket=ticket,
                )
            )
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
