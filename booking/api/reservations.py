"""Looking up and cancelling a reservation by its code and the resident's date of birth."""

from __future__ import annotations

from typing import Any

from flask import request

from booking.api import bp
from booking.api.common import json_object
from booking.api.serializers import reservation_json
from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, Reservation, Slot
from booking.services import reservations
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.services.validation import parse_date


def _dob(raw: object) -> Any:
    if raw in (None, ""):
        raise InvalidInput(
            N_("Missing date of birth."), errors={"date_of_birth": N_("Give the date of birth.")}
        )
    return parse_date(raw, field="date_of_birth")


def _view(session: Any, reservation: Reservation) -> dict[str, Any]:
    slot = session.get(Slot, reservation.slot_id)
    clinic = session.get(Clinic, reservation.clinic_id)
    return {
        "confirmation_code": reservation.confirmation_code,
        "reservation": reservation_json(reservation, slot, clinic),
    }


@bp.get("/v1/reservations/<code>")
def get_reservation(code: str) -> Any:
    """A reservation, given its code and the resident's date of birth."""
    dob = _dob(request.args.get("date_of_birth"))
    reservation = reservations.find_by_code(db.session, code[:32], dob)
    return _view(db.session, reservation)


@bp.post("/v1/reservations/<code>/cancel")
def cancel_reservation(code: str) -> Any:
    """Cancel a reservation, given its code and the resident's date of birth."""
    dob = _dob(json_object().get("date_of_birth"))
    notices = notice_policy()

    def work(session: Any) -> dict[str, Any]:
        found = reservations.find_by_code(session, code[:32], dob)
        cancelled = reservations.cancel_reservation(session, found.id, now=now(), notices=notices)
        return _view(session, cancelled)

    return db.transaction(work)
