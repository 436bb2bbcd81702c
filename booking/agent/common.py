"""What the console's pages share: the roles, the bookings this agent may open, audit helpers."""

from __future__ import annotations

from typing import Any

from flask import abort, session

from booking.db import db
from booking.models import Clinic, MessageChannel, MessageKind, OutboxMessage, Reservation, Slot
from booking.services import agent as agent_service
from booking.services import outbox
from booking.services.agent import spell_code
from booking.services.tokens import format_code
from booking.web import courses as course_pages
from booking.web.access import audit

ROLES = ("agent", "state_admin")
_FOUND = "agent_found"
_KEEP = 20


def remember(*reservation_ids: int) -> None:
    """Let this signed-in agent open these bookings (the ones they found or booked)."""
    found = [i for i in session.get(_FOUND, []) if i not in reservation_ids]
    session[_FOUND] = (list(reservation_ids) + found)[:_KEEP]


def known_reservation(reservation_id: int) -> Reservation:
    """A booking this agent found or made on this sign-in; anything else is not found.

    Agents reach a booking through the caller's details, never by walking through ids.
    """
    if reservation_id not in session.get(_FOUND, []):
        abort(404)
    reservation = db.session.get(Reservation, reservation_id)
    if reservation is None or reservation.confirmation_code is None:
        abort(404)
    return reservation


def audit_view(reservation: Reservation, page: str) -> None:
    """Record that the agent saw this caller's personal data, and on which page."""
    db.transaction(
        lambda _s: audit(
            "agent.view_reservation",
            record_type="reservation",
            record_id=reservation.id,
            clinic_id=reservation.clinic_id,
            detail={"page": page},
        )
    )


def confirmation_sms(reservation_id: int) -> OutboxMessage | None:
    """The text message carrying the confirmation, if one was written."""
    for message in outbox.list_messages(db.session, reservation_id=reservation_id, limit=100):
        if (
            message.kind == MessageKind.CONFIRMATION.value
            and message.channel == MessageChannel.SMS.value
        ):
            return message
    return None


def booking_context(reservation: Reservation) -> dict[str, Any]:
    """Everything a page about one booking shows."""
    code = reservation.confirmation_code or ""
    return {
        "reservation": reservation,
        "code": format_code(code),
        "spelled": spell_code(code),
        "slot": db.session.get(Slot, reservation.slot_id),
        "clinic": db.session.get(Clinic, reservation.clinic_id),
        "sms": confirmation_sms(reservation.id),
        "appointments": course_pages.appointments(db.session, reservation),
        "has_dose_two": course_pages.has_dose_two(db.session, reservation),
        "others": agent_service.other_bookings(db.session, reservation),
        "messages": agent_service.booking_messages(db.session, reservation.id),
        "values": {},
    }
