"""Looking up and cancelling a reservation by its code and the resident's date of birth."""

from __future__ import annotations

from typing import Any

from flask import request

from booking.api import bp
from booking.api.common import json_object
from booking.api.serializers import dose_json, reservation_json
from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, Reservation, Slot
from booking.services import reservations
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.services.validation import parse_date
from booking.web import courses as course_pages


def date_of_birth(raw: object) -> Any:
    """The date of birth that, with the code, finds a booking (422 if missing or invalid)."""
    if raw in (None, ""):
        raise InvalidInput(
            N_("Missing date of birth."), errors={"date_of_birth": N_("Give the date of birth.")}
        )
    return parse_date(raw, field="date_of_birth")


def booking_view(session: Any, reservation: Reservation) -> dict[str, Any]:
    """A booking as the API answers it: the reservation and, for a course, its other dose."""
    slot = session.get(Slot, reservation.slot_id)
    clinic = session.get(Clinic, reservation.clinic_id)
    body: dict[str, Any] = {
        "confirmation_code": reservation.confirmation_code,
        "reservation": reservation_json(reservation, slot, clinic),
    }
    # A course: the other dose booked here, confirmed (dose 1 or dose 2, by its number).
    for other in course_pages.appointments(session, reservation):
        if other.reservation.id != reservation.id:
            key = "first_dose" if other.reservation.dose_number == 1 else "second_dose"
            body[key] = dose_json(other.reservation, other.slot, other.clinic)
    return body


@bp.get("/v1/reservations/<code>")
def get_reservation(code: str) -> Any:
    """A reservation, given its code and the resident's date of birth."""
    dob = date_of_birth(request.args.get("date_of_birth"))
    reservation = reservations.find_by_code(db.session, code[:32], dob)
    return booking_view(db.session, reservation)


@bp.post("/v1/reservations/<code>/cancel")
def cancel_reservation(code: str) -> Any:
    """Cancel a reservation, given its code and the resident's date of birth."""
    body = json_object()
    dob = date_of_birth(body.get("date_of_birth"))
    raw_given = body.get("dose_one_given_on")
    # Dose 1 of a course: given, dose 2 stays as "dose 2 only" from that date; else it goes too.
    given = None if raw_given is None else parse_date(raw_given, field="dose_one_given_on")
    notices = notice_policy()

    def work(session: Any) -> dict[str, Any]:
        found = reservations.find_by_code(session, code[:32], dob)
        if given is not None and not course_pages.has_dose_two(session, found):
            message = N_("This booking has no dose 2 to keep: leave dose_one_given_on out.")
            raise InvalidInput(message, errors={"dose_one_given_on": message})
        cancelled = reservations.cancel_reservation(
            session, found.id, now=now(), notices=notices, dose_one_given_on=given
        )
        return booking_view(session, cancelled)

    return db.transaction(work)
