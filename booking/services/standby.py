"""Standby for today: a clinic with doses left asks FairSlot to fill places in the next hours.

The places come from the clinic's remaining free places today (from a quarter of an hour on,
so whoever is offered one can get there); they are set aside for invitees as a state admin's
release would be, and a round restricted to this clinic and day draws among the people who
asked for short-notice offers, nearby and eligible, in priority and lottery order: half again
as many as the places, at least one more. Their offers last the hours the clinic chose (never
past its last place today); the first to book take the places, the booking of the last one
ends the other offers, and places nobody took go back to public booking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.models import Clinic, Invitation, InvitationRound, OnExpiry
from booking.services import invitations
from booking.services.errors import InvalidInput, NotFound
from booking.services.text import N_
from booking.services.validation import parse_int

EXTRA = 0.5  # offers beyond the places, per place (at least one): some will not answer in time
MAX_PLACES = 100
MAX_HOURS = 4
LEAD = timedelta(minutes=15)  # time to get to the clinic


def fill(
    session: Session,
    clinic_id: int,
    *,
    places: object,
    hours: object,
    service: object,
    now: datetime,
    staff_id: int | None = None,
) -> Standby:
    """Offer up to ``places`` of the clinic's free places today to short-notice volunteers."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound(N_("No clinic with that id."))
    errors: dict[str, str] = {}
    wanted = offer_hours = 0
    try:
        wanted = parse_int(places, field="places", low=1, high=MAX_PLACES)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        offer_hours = parse_int(hours, field="hours", low=1, high=MAX_HOURS)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if not isinstance(service, str) or service not in (clinic.services or []):
        errors["service"] = N_("Choose a vaccine this clinic offers.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    assert isinstance(service, str)
    today = now.astimezone(ZoneInfo(clinic.timezone)).date()
    released = invitations.release_places(
        session, clinic.id, today, wanted, service=service, now=now + LEAD
    )
    if not released:
        message = N_("No free places are left today from a quarter of an hour from now.")
        raise InvalidInput(message, errors={"places": message})
    record = invitations.run_round(
        session,
        service=service,
        now=now,
        over_invitation=offers_per_place(released),
        expires_hours=offer_hours,
        on_expiry=OnExpiry.PUBLIC.value,
        staff_id=staff_id,
        only=invitations.release_key(clinic.id, today),
        short_notice=True,
    )
    # Places beyond the offers made (nobody, or too few, asked for short notice nearby) go back
    # to public booking at once rather than waiting, set aside, for nobody.
    invitations.give_back(session, clinic.id, today, released, now=now)
    offers = (
        session.scalar(select(func.count(Invitation.id)).where(Invitation.round_id == record.id))
        or 0
    )
    return Standby(record, places=min(released, offers), offers=offers)


def offers_per_place(places: int) -> float:
    """Half again as many offers as places, and at least one more: 1 -> 2, 2 -> 3, 4 -> 6."""
    return (places + max(1, math.ceil(places * EXTRA))) / places


@dataclass(frozen=True)
class Standby:
    """What a call for standby did: the round, the places kept for its offers (the rest went
    back to public booking) and the offers sent."""

    round: InvitationRound
    places: int
    offers: int
