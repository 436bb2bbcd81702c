"""Finding a caller's booking (code and birth date, or name, birth date and phone); changing it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy.orm import Session

from booking.agent import bp
from booking.agent.common import ROLES, audit_view, booking_context, known_reservation, remember
from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, Reservation, ReservationStatus, Slot
from booking.services import agent as agent_service
from booking.services import inventory, moves, reservations
from booking.services.errors import DomainError, InvalidInput, NotEligible, NotFound
from booking.services.text import N_
from booking.services.validation import parse_birth_date, parse_int
from booking.web import courses as course_pages
from booking.web.access import audit, staff_route
from booking.web.search_args import pick_day

BY_CODE = ("code", "dob")
BY_PERSON = ("first_name", "last_name", "person_dob", "phone")
MISSING = {
    "code": N_("Enter the confirmation code."),
    "dob": N_("Enter the date of birth."),
    "first_name": N_("Enter the first name."),
    "last_name": N_("Enter the last name."),
    "person_dob": N_("Enter the date of birth."),
    "phone": N_("Enter the phone number."),
}


def _lookup_page(values: Any, errors: dict[str, str], status: int = 200) -> Any:
    return render_template("agent/lookup.html", values=values, errors=errors), status


def _required(values: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    errors: dict[str, str] = {name: MISSING[name] for name in fields if not values[name].strip()}
    for name in ("dob", "person_dob"):
        if name in fields and name not in errors:
            try:
                parse_birth_date(values[name], today=now().date(), field=name)
            except InvalidInput as exc:
                errors.update(exc.errors)
    return errors


def _find(by: str, values: dict[str, str]) -> list[Reservation]:
    today = now().date()
    if by == "code":
        born = parse_birth_date(values["dob"], today=today, field="dob")
        return [agent_service.find_by_code_and_dob(db.session, values["code"], born)]
    born = parse_birth_date(values["person_dob"], today=today, field="person_dob")
    return agent_service.find_by_person(
        db.session,
        first_name=values["first_name"],
        last_name=values["last_name"],
        date_of_birth=born,
        phone=values["phone"],
    )


@bp.route("/lookup", methods=["GET", "POST"])
@staff_route(*ROLES)
def lookup() -> Any:
    """Find a booking by code and date of birth, or by name, date of birth and phone."""
    if request.method == "GET":
        return _lookup_page({}, {})
    by = request.form.get("by", "")
    values = {name: request.form.get(name, "")[:100] for name in BY_CODE + BY_PERSON}
    if by not in ("code", "person"):
        return _lookup_page(values, {"form": N_("Choose how to look the booking up.")}, 422)
    errors = _required(values, BY_CODE if by == "code" else BY_PERSON)
    if errors:
        return _lookup_page(values, errors, 422)
    try:
        found = _find(by, values)
    except NotFound:
        # A wrong code, birth date, name or phone: one answer for all, so guesses learn nothing.
        return _lookup_page(values, {"form": agent_service.NOT_FOUND}, 404)
    remember(*(r.id for r in found))
    if len(found) == 1:
        return redirect(url_for("agent.reservation", reservation_id=found[0].id), code=303)
    for match in found:
        audit_view(match, "lookup_list")
    rows = [
        (r, db.session.get(Slot, r.slot_id), db.session.get(Clinic, r.clinic_id)) for r in found
    ]
    return render_template("agent/matches.html", rows=rows)


@bp.get("/reservations/<int(max=2147483647):reservation_id>")
@staff_route(*ROLES)
def reservation(reservation_id: int) -> Any:
    """The caller's booking, with the ways to change it."""
    found = known_reservation(reservation_id)
    audit_view(found, "reservation")
    return render_template("agent/reservation.html", errors={}, **booking_context(found))


@bp.post("/reservations/<int(max=2147483647):reservation_id>/cancel")
@staff_route(*ROLES)
def cancel(reservation_id: int) -> Any:
    """Cancel once the caller has confirmed it; the place goes back to everyone."""
    found = known_reservation(reservation_id)
    if request.form.get("caller_confirmed") not in ("1", "on", "yes"):
        errors: dict[str, str] = {
            "caller_confirmed": N_("Check that the caller wants to cancel first.")
        }
        page = render_template("agent/reservation.html", errors=errors, **booking_context(found))
        return page, 422

    values = {k: request.form.get(k, "")[:20] for k in ("dose_two", "dose_one_given_on")}

    def work(s: Session) -> None:
        done = reservations.cancel_reservation(
            s, found.id, now=now(), notices=notice_policy(), dose_one_given_on=given
        )
        audit(
            "agent.cancel",
            record_type="reservation",
            record_id=done.id,
            clinic_id=done.clinic_id,
            detail={"slot_id": done.slot_id, "dose_two": values["dose_two"] or None},
        )

    try:
        given = _dose_one_given_on(found, values)
        db.transaction(work)
    except InvalidInput as exc:
        errors = dict(exc.errors) or {"form": exc.detail}
        if "prior_dose_date" in errors:
            errors["dose_one_given_on"] = errors.pop("prior_dose_date")
        context = {**booking_context(found), "values": values}
        return render_template("agent/reservation.html", errors=errors, **context), 422
    except DomainError as exc:
        errors = {"form": exc.detail}
        page = render_template("agent/reservation.html", errors=errors, **booking_context(found))
        return page, exc.status
    return redirect(url_for("agent.reservation", reservation_id=found.id, cancelled=1), code=303)


def _dose_one_given_on(found: Reservation, values: dict[str, str]) -> date | None:
    """Cancelling dose 1 of a course: None cancels dose 2 too, a date keeps it."""
    if not course_pages.has_dose_two(db.session, found):
        return None
    if values["dose_two"] == "cancel":
        return None
    if values["dose_two"] != "keep":
        message = N_("Choose what happens to dose 2.")
        raise InvalidInput(message, errors={"dose_two": message})
    return course_pages.parse_prior_date(values["dose_one_given_on"], field="dose_one_given_on")


def _course_step(found: Reservation, slot_id: int, errors: dict[str, str], status: int) -> Any:
    """The new time for dose 1 and dose 2's times inside the window it opens (every place)."""
    new_slot = db.session.get(Slot, slot_id)
    if new_slot is None:
        raise NotFound(N_("No slot with that id."))
    appointments = course_pages.appointments(db.session, found)
    keep = appointments[1].slot if len(appointments) > 1 else None
    choice = course_pages.dose_two_choice(db.session, new_slot, now=now(), online=False, keep=keep)
    clinic = db.session.get(Clinic, new_slot.clinic_id)
    assert clinic is not None
    page = render_template(
        "agent/reschedule_course.html",
        reservation=found,
        new_slot=new_slot,
        clinic=clinic,
        dose_two=choice,
        dose_two_days=course_pages.options_by_day(choice, clinic) if choice else [],
        values={course_pages.FIELD: request.form.get(course_pages.FIELD, "")[:20]},
        errors=errors,
    )
    return page, status


def _override_page(
    found: Reservation,
    slot_id: int,
    refusal: NotEligible | None,
    errors: dict[str, str],
    status: int = 422,
) -> Any:
    """Why the rules refuse the new time, and the agent's form to move the caller anyway."""
    new_slot = db.session.get(Slot, slot_id)
    clinic = db.session.get(Clinic, new_slot.clinic_id) if new_slot else None
    if new_slot is None or clinic is None:
        return _reschedule_page(found, None, N_("That time does not exist."), 404)
    reasons = (refusal.errors or {"service": refusal.detail}) if refusal else {}
    carried = {
        name: request.form.get(name, "")[:20]
        for name in ("step", course_pages.FIELD)
        if request.form.get(name)
    }
    page = render_template(
        "agent/reschedule_override.html",
        reservation=found,
        new_slot=new_slot,
        clinic=clinic,
        refusal=reasons,
        carried=carried,
        errors=errors,
        values={"override_reason": request.form.get("override_reason", "")[:500]},
        min_reason=agent_service.MIN_OVERRIDE_REASON,
    )
    return page, status


MOVE_MILES = 25  # how far the console looks for other clinics to move a caller to


def _move_clinic(found: Reservation) -> Clinic:
    """The clinic whose times the agent is looking at: the booking's, or one chosen nearby."""
    home = db.session.get(Clinic, found.clinic_id)
    assert home is not None
    raw = request.values.get("clinic", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 10:
        other = db.session.get(Clinic, int(raw))
        if other is not None and other.active and found.service in (other.services or []):
            return other
    return home


def _reschedule_page(
    found: Reservation, raw_day: str | None, error: str | None, status: int
) -> Any:
    clinic = _move_clinic(found)
    home = db.session.get(Clinic, found.clinic_id)
    assert home is not None
    moment = now()
    days = agent_service.free_days(
        db.session,
        clinic,
        now=moment,
        days=current_app.config["BOOKING_DAYS"],
        service=found.service,
    )
    day: date = pick_day(days, raw_day)
    today = moment.astimezone(ZoneInfo(clinic.timezone)).date()
    free = agent_service.free_on_day(db.session, clinic, day, now=moment, service=found.service)
    nearby = inventory.search_clinics(
        db.session,
        latitude=home.latitude,
        longitude=home.longitude,
        radius_miles=MOVE_MILES,
        now=moment,
        service=found.service,
        horizon_days=current_app.config["BOOKING_DAYS"],
    )
    page = render_template(
        "agent/reschedule.html",
        reservation=found,
        current_slot=db.session.get(Slot, found.slot_id),
        home=home,
        clinic=clinic,
        nearby=nearby,
        days=days,
        day=day,
        service=None,
        day_query=f"clinic={clinic.id}" if clinic.id != home.id else "",
        free=[slot for slot in free if slot.id != found.slot_id],
        moment=moment,
        today=today,
        tomorrow=today + timedelta(days=1),
        error=error,
    )
    return page, status


@bp.route("/reservations/<int(max=2147483647):reservation_id>/reschedule", methods=["GET", "POST"])
@staff_route(*ROLES)
def reschedule(reservation_id: int) -> Any:
    """Move the booking to another time, at its clinic or one nearby; the old time stays until
    the new one is taken."""
    found = known_reservation(reservation_id)
    if found.status != ReservationStatus.CONFIRMED:
        return redirect(url_for("agent.reservation", reservation_id=found.id), code=303)
    if request.method == "GET":
        audit_view(found, "reschedule")
        return _reschedule_page(found, request.args.get("date"), None, 200)
    try:
        slot_id = parse_int(request.form.get("slot_id"), field="slot_id", low=1, high=2**31 - 1)
    except InvalidInput:
        return _reschedule_page(
            found, request.form.get("date"), N_("Choose one of the times."), 422
        )
    old_slot_id = found.slot_id
    course = course_pages.has_dose_two(db.session, found)
    try:
        if course and request.form.get("step") != "course":
            # A course: dose 2 is chosen again inside the new window before anything moves.
            return _course_step(found, slot_id, {}, 200)
        second = course_pages.parse_second_dose(request.form) if course else None
    except NotFound:
        return _reschedule_page(
            found, request.form.get("date"), N_("That time does not exist."), 404
        )
    except InvalidInput as exc:
        return _course_step(found, slot_id, {"form": exc.detail, **exc.errors}, 422)

    raw_reason = request.form.get("override_reason")
    reason = agent_service.override_reason(raw_reason)
    if raw_reason is not None and reason is None:
        message = gettext(
            "Write at least %(num)d characters on why this caller should be moved anyway.",
            num=agent_service.MIN_OVERRIDE_REASON,
        )
        refusal = moves.move_refusal(db.session, found, slot_id, now=now())
        return _override_page(found, slot_id, refusal, {"override_reason": message})

    def work(s: Session) -> None:
        # Agents never queue: a move to another clinic needs no admission from them.
        refusal = moves.move_refusal(s, found, slot_id, now=now()) if reason else None
        moved = moves.reschedule_reservation(
            s,
            found.id,
            slot_id,
            now=now(),
            notices=notice_policy(),
            online=False,
            second_dose_slot_id=second,
            override_reason=reason,
        )
        where = {"record_type": "reservation", "record_id": moved.id, "clinic_id": moved.clinic_id}
        if refusal is not None:
            refused = refusal.errors or {"service": refusal.detail}
            overridden = {"reason": reason, "rule": refusal.rule, "refused": refused, "move": True}
            audit("agent.eligibility_override", **where, detail=overridden)
        moved_detail = {
            "from_slot_id": old_slot_id,
            "to_slot_id": slot_id,
            "override": bool(refusal),
        }
        audit("agent.reschedule", **where, detail=moved_detail)

    try:
        db.transaction(work)
    except NotFound:
        return _reschedule_page(
            found, request.form.get("date"), N_("That time does not exist."), 404
        )
    except NotEligible as exc:
        # Age on the new date, or the new time's vaccine: say which rule; the agent may override.
        return _override_page(found, slot_id, exc, {}, status=exc.status)
    except DomainError as exc:
        if course and course_pages.FIELD in exc.errors:
            return _course_step(found, slot_id, {"form": exc.detail, **exc.errors}, exc.status)
        return _reschedule_page(found, request.form.get("date"), exc.detail, exc.status)
    return redirect(url_for("agent.reservation", reservation_id=found.id, moved=1), code=303)
