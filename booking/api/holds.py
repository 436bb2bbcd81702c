"""Holding a slot, releasing it, and confirming it into a reservation."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Response, current_app

from booking.api import bp
from booking.api.common import MAX_ID, idempotency_key, is_json_integer, json_object
from booking.api.serializers import booking_vaccine_json, local_iso
from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.services import eligibility, holds, reservations, statements
from booking.services.errors import InvalidInput, NotFound
from booking.services.people import Person
from booking.services.text import N_
from booking.services.tokens import format_code
from booking.services.validation import parse_birth_date, parse_date, parse_int
from booking.web.gate import gated, leave_after_booking, require_admission

_HOLD_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")  # what secrets.token_urlsafe produces


def _hold_token(hold_id: str) -> str:
    if not _HOLD_ID_RE.fullmatch(hold_id):
        raise NotFound(N_("No hold with that id."))
    return hold_id


@bp.post("/v1/holds")
@gated
def create_hold() -> Any:
    """Hold one place in a slot for the configured number of minutes."""
    admission = require_admission(api=True)
    body = json_object()
    if isinstance(body.get("slot_id"), str):
        raise InvalidInput(
            N_("Invalid number."), errors={"slot_id": N_("Send slot_id as a JSON integer.")}
        )
    slot_id = parse_int(body.get("slot_id"), field="slot_id", low=1, high=MAX_ID)
    # Optional: given, a slot whose vaccine or rules exclude that age is refused before holding.
    raw_born = body.get("date_of_birth")
    born = None if raw_born is None else parse_birth_date(raw_born, today=now().date())
    key = idempotency_key()

    def work(session: Any) -> dict[str, Any]:
        reservation = holds.place_hold(
            session,
            slot_id,
            now=now(),
            hold_minutes=current_app.config["HOLD_MINUTES"],
            request_key=key,
            admission_ticket=admission.ticket,
            date_of_birth=born,
            companion_allowed=current_app.config["COMPANION_BOOKING"],
        )
        return {
            "hold_id": reservation.hold_token,
            "slot_id": reservation.slot_id,
            "expires_at": reservation.hold_expires_at.isoformat(timespec="seconds"),
        }

    return db.transaction(work), 201


@bp.delete("/v1/holds/<hold_id>")
def delete_hold(hold_id: str) -> Any:
    """Release a hold; its place goes back to the pool at once."""
    token = _hold_token(hold_id)
    db.transaction(lambda s: holds.release_hold(s, token, now=now()))
    return Response(status=204)


def _confirm_body(
    body: dict[str, Any], *, today: Any
) -> tuple[Person, eligibility.EligibilityAnswers, bool]:
    """The person, their eligibility answers and the companion flag, every problem at once."""
    errors: dict[str, str] = {}
    person = answers = None
    try:
        person, answers = eligibility.parse_booking_details(
            body, today=today, require_attestation=False
        )
    except InvalidInput as exc:
        errors.update(exc.errors)
    companion = body.get("companion", False)
    if companion not in (True, False):
        errors["companion"] = N_("Send companion as true or false.")
    elif companion and not current_app.config["COMPANION_BOOKING"]:
        errors["companion"] = N_("Companion bookings are not offered.")
    if errors or person is None or answers is None:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    return person, answers, bool(companion)


@bp.post("/v1/holds/<hold_id>/confirm")
@gated
def confirm_hold(hold_id: str) -> Any:
    """Confirm a hold with the resident's details; replays return the same reservation."""
    token = _hold_token(hold_id)
    admission = require_admission(api=True)
    body = json_object()
    moment = now()
    person, answers, companion = _confirm_body(body, today=moment.date())
    second_dose_slot_id, prior_dose_date = _course_fields(body)
    secret = current_app.config["SECRET_KEY"]
    notices = notice_policy()
    consumed: list[str | None] = []

    def work(session: Any) -> dict[str, Any]:
        done = reservations.confirm_hold(
            session,
            token,
            person,
            answers=answers,
            admission_ticket=admission.ticket,
            now=moment,
            secret_key=secret,
            notices=notices,
            companion=companion,
            second_dose_slot_id=second_dose_slot_id,
            prior_dose_date=prior_dose_date,
        )
        reservation = done.reservation
        consumed[:] = [reservation.admission_ticket]
        if done.slot is not None and done.timezone is not None:
            # Confirming (or its replay) read the slot and its clinic's zone already.
            slot_id, clinic_id = done.slot.id, done.slot.clinic_id
            start = local_iso(done.slot.starts_at, done.timezone)
        else:
            # Otherwise one query for the slot and its clinic (the reservation's, which is
            # always the slot's: holds copy it, and moves change both together).
            at = session.execute(
                statements.confirmation_answer(), {"answer_slot_id": reservation.slot_id}
            ).one()
            slot_id, clinic_id, start = at.id, at.clinic_id, local_iso(at.starts_at, at.timezone)
        answer: dict[str, Any] = {
            "confirmation_code": reservation.confirmation_code,
            "confirmation_code_display": format_code(reservation.confirmation_code or ""),
            "manage_token": done.manage_token,
            "reservation": {
                "status": reservation.status,
                "slot_id": slot_id,
                "clinic_id": clinic_id,
                "start": start,
                "vaccine": booking_vaccine_json(reservation),
            },
        }
        if done.second_dose is not None:
            second = done.second_dose
            at = session.execute(
                statements.confirmation_answer(), {"answer_slot_id": second.slot_id}
            ).one()
            answer["second_dose"] = {
                "confirmation_code": second.confirmation_code,
                "slot_id": at.id,
                "clinic_id": at.clinic_id,
                "start": local_iso(at.starts_at, at.timezone),
                "vaccine": booking_vaccine_json(second),
            }
        return answer

    answer = db.transaction(work)
    # Committed: the admission that placed this hold is used up, so its place goes to the next.
    leave_after_booking(consumed[0] if consumed else None)
    return answer, 201


def _course_fields(body: dict[str, Any]) -> tuple[int | None, date | None]:
    """The optional dose-2 slot and "dose 2 only" date of a confirm body."""
    raw_slot, raw_date = body.get("second_dose_slot_id"), body.get("prior_dose_date")
    slot_id = None
    if raw_slot is not None:
        if not is_json_integer(raw_slot):
            message = N_("Send second_dose_slot_id as a JSON integer.")
            raise InvalidInput(N_("Invalid number."), errors={"second_dose_slot_id": message})
        slot_id = parse_int(raw_slot, field="second_dose_slot_id", low=1, high=MAX_ID)
    given = None if raw_date is None else parse_date(raw_date, field="prior_dose_date")
    return slot_id, given
