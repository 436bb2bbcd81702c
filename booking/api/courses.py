"""Two-dose courses in the API: dose 2's times for a dose-1 slot, and moving a booking."""

from __future__ import annotations

from typing import Any

from booking.api import bp
from booking.api.common import MAX_ID, is_json_integer, json_object, path_id
from booking.api.reservations import booking_view, date_of_birth
from booking.api.serializers import slot_json
from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, Slot
from booking.services import moves, reservations
from booking.services.errors import InvalidInput, NotFound
from booking.services.text import N_
from booking.services.validation import parse_int
from booking.web import courses as course_pages
from booking.web.gate import admission_for_move, leave_after_booking

_NO_SLOT = N_("No slot with that id.")


@bp.get("/v1/slots/<slot_id>/second-dose-slots")
def second_dose_slots(slot_id: str) -> Any:
    """Dose 2's free times for dose 1 at this slot, the window they lie in, and the default."""
    slot = db.session.get(Slot, path_id(slot_id, _NO_SLOT))
    if slot is None:
        raise NotFound(_NO_SLOT)
    moment = now()
    choice = course_pages.dose_two_choice(db.session, slot, now=moment)
    if choice is None:
        message = N_("This vaccine is given as one dose: there is no dose 2 to book.")
        raise InvalidInput(message, errors={"slot_id": message})
    clinic = db.session.get(Clinic, slot.clinic_id)
    assert clinic is not None
    return {
        "window": {
            "first_day": choice.first_day.isoformat(),
            "last_day": choice.last_day.isoformat(),
            "min_days": choice.min_days,
            "max_days": choice.max_days,
        },
        "default_slot_id": choice.default_id,
        "complete": not choice.cut_short,
        "slots": [slot_json(s, clinic.timezone, moment) for s in choice.options],
    }


def _int_field(body: dict[str, Any], name: str, *, required: bool) -> int | None:
    raw = body.get(name)
    if raw is None and not required:
        return None
    if not is_json_integer(raw):
        message = N_("Send %(field)s as a JSON integer.", field=name)
        raise InvalidInput(N_("Invalid number."), errors={name: message})
    return parse_int(raw, field=name, low=1, high=MAX_ID)


@bp.post("/v1/reservations/<code>/reschedule")
def reschedule_reservation(code: str) -> Any:
    """Move a booking to another time; another clinic needs an admission while the room is on."""
    body = json_object()
    dob = date_of_birth(body.get("date_of_birth"))
    slot_id = _int_field(body, "slot_id", required=True)
    assert slot_id is not None
    second = _int_field(body, "second_dose_slot_id", required=False)
    gated, ticket = admission_for_move(api=True)
    notices = notice_policy()

    def work(session: Any) -> tuple[dict[str, Any], str | None]:
        found = reservations.find_by_code(session, code[:32], dob)
        moved = moves.reschedule_reservation(
            session,
            found.id,
            slot_id,
            now=now(),
            notices=notices,
            second_dose_slot_id=second,
            require_admission=gated,
            admission_ticket=ticket,
        )
        spent = ticket if ticket is not None and moved.admission_ticket == ticket else None
        return booking_view(session, moved), spent

    answer, spent = db.transaction(work)
    # Committed: a move to another clinic used the admission, as a booking would.
    leave_after_booking(spent)
    return answer
