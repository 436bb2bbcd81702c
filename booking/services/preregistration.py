"""Preregistration: sign up once, see where you stand, change your details or withdraw.

Every channel (the resident pages, the API, the 2-1-1 console) goes through ``register``,
``update`` and ``withdraw``, so the rules hold whichever way a person comes in: the eligibility
answers are checked against the phases in force (``eligibility.parse_answers``), a person
already booked is refused, and one person has one active preregistration (the database's
partial unique index decides a race). The status link is signed with the secret key over the
preregistration's id and a nonce, so it names one preregistration and nothing else.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import (
    BOOKED_STATUSES,
    LOCALES,
    Invitation,
    InvitationRound,
    InvitationStatus,
    OnExpiry,
    Preregistration,
    PreregistrationStatus,
    Reservation,
    ReservationStatus,
    VaccineProduct,
)
from booking.models.preregistrations import MAX_TRAVEL_MILES
from booking.services import eligibility, invitations, row_tokens
from booking.services.errors import AlreadyBooked, Conflict, InvalidInput, NotFound
from booking.services.search import find_place
from booking.services.text import N_
from booking.services.tokens import person_key
from booking.services.validation import normalize_phone, parse_int, parse_person

CHANNELS = ("online", "agent", "api")
ACTIVE = (PreregistrationStatus.WAITING.value, PreregistrationStatus.INVITED.value)
ACCESSIBILITY_MAX = 500
_NOT_FOUND = N_("That link is not valid. Preregister again or call 2-1-1.")


@dataclass(frozen=True)
class Standing:
    """What the status page may honestly say: the group, the status, and the group's invitations
    so far (no invented place in a line)."""

    priority_group: str
    priority_rank: int
    status: str
    invited_in_group: int


# --- Parsing ------------------------------------------------------------------------------------


def _yes(value: object) -> bool:
    return value in (True, "yes", "on", "1", "true")


def _control(text: str) -> bool:
    # Tabs and line breaks are fine in free text (the needs box is several lines).
    return any((ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in text)


def _details(session: Session, values: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The changeable details: where, how far, how to reach, language, product, needs."""
    found: dict[str, Any] = {}
    try:
        # A ZIP code or a town of the state, as the search box takes (the town's own ZIP code
        # is kept); a ZIP code of another state is refused with the reason.
        place = find_place(values.get("zip"))
        found.update(zip_code=place.zip_code, latitude=place.latitude, longitude=place.longitude)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        found["travel_miles"] = parse_int(
            values.get("travel_miles"), field="travel_miles", low=1, high=MAX_TRAVEL_MILES
        )
    except InvalidInput as exc:
        errors.update(exc.errors)
    locale = values.get("language")
    if not isinstance(locale, str) or locale not in LOCALES:
        errors["language"] = N_("Choose a language.")
    found["locale"] = locale
    found["product_id"] = _product(session, values, errors)
    needs = values.get("accessibility")
    if needs in (None, ""):
        found["accessibility"] = None
    elif not isinstance(needs, str) or len(needs) > ACCESSIBILITY_MAX or _control(needs):
        errors["accessibility"] = N_(
            "Describe your needs in %(num)d characters or fewer, as plain text.",
            num=ACCESSIBILITY_MAX,
        )
    else:
        found["accessibility"] = needs.strip() or None
    found["short_notice"] = _yes(values.get("short_notice"))
    return found


def _product(session: Session, values: Mapping[str, Any], errors: dict[str, str]) -> int | None:
    raw = values.get("product_id")
    if raw in (None, "", "any"):
        return None
    try:
        product_id = parse_int(raw, field="product_id", low=1, high=2**31 - 1)
    except InvalidInput:
        errors["product_id"] = N_("Choose a vaccine from the list.")
        return None
    product = session.get(VaccineProduct, product_id)
    if product is None or not product.active or product.service != values.get("service"):
        errors["product_id"] = N_("Choose a vaccine from the list.")
        return None
    return product_id


def _callback(values: Mapping[str, Any], errors: dict[str, str], *, channel: str) -> str | None:
    """The call-back number; only the 2-1-1 console may take one instead of a phone or email."""
    raw = values.get("callback_phone")
    if channel != "agent" or raw in (None, ""):
        return None
    callback = normalize_phone(raw)
    if callback is None:
        errors["callback_phone"] = N_("Enter a 10-digit US phone number, like 617-555-0123.")
    return callback


def parse(
    session: Session, values: Mapping[str, Any], *, today: date, channel: str
) -> dict[str, Any]:
    """Validate a whole preregistration, naming every problem at once."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {"callback_phone": _callback(values, errors, channel=channel)}
    given = dict(values)
    # A caller reached only by call-back: the person check wants some contact, so lend it one.
    lent = fields["callback_phone"] is not None and all(
        given.get(name) in (None, "") for name in ("phone", "email")
    )
    if lent:
        given["phone"] = fields["callback_phone"]
    try:
        person = parse_person(given, today=today, require_attestation=False)
        fields.update(
            person_key=person.key,
            first_name=person.first_name,
            last_name=person.last_name,
            date_of_birth=person.date_of_birth,
            phone=None if lent else person.phone,
            email=person.email,
        )
    except InvalidInput as exc:
        errors.update(exc.errors)
    fields.update(_details(session, values, errors))
    if not _yes(values.get("consent")):
        errors["consent"] = N_("Agree to be contacted so we can invite you.")
    try:
        answers = eligibility.parse_answers(session, values, today=today)
        rank, group = eligibility.priority_group(session, answers, today=today)
        fields.update(
            service=answers.service,
            lives_or_works_in_state=answers.lives_or_works_in_state,
            has_condition=answers.has_condition,
            priority_rank=rank,
            priority_group=group,
        )
    except InvalidInput as exc:
        for name, message in (exc.errors or {"service": exc.detail}).items():
            errors.setdefault(name, message)
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    return fields


_PURPOSE = "preregistration"


# --- The status link --------------------------------------------------------------------------


def status_token(secret_key: str, prereg: Preregistration) -> str:
    """The private status link's token: the id and a signature over it and the nonce."""
    return row_tokens.sign(secret_key, _PURPOSE, prereg.id, prereg.token_nonce)


def find_by_token(session: Session, secret_key: str, token: object) -> Preregistration:
    """The preregistration a status token names; NotFound for anything else."""
    number = row_tokens.row_id(token)
    prereg = session.get(Preregistration, number) if number is not None else None
    if prereg is None or not row_tokens.matches(
        secret_key, _PURPOSE, str(token), prereg.id, prereg.token_nonce
    ):
        raise NotFound(_NOT_FOUND)
    return prereg


# --- Register, read, change, withdraw --------------------------------------------------------


def already_booked(session: Session, person_key: str, service: str) -> bool:
    """Whether the person holds a booking (or had the vaccine here) for the service."""
    statuses = [s.value for s in BOOKED_STATUSES if s != ReservationStatus.NO_SHOW]
    found = session.scalar(
        select(Reservation.id).where(
            Reservation.person_key == person_key,
            Reservation.service == service,
            Reservation.status.in_(statuses),
        )
    )
    return found is not None


def _refuse_duplicate() -> Conflict:
    message = N_(
        "You are already preregistered. Use your status link to see or change it, or call 2-1-1."
    )
    return Conflict(message, errors={"form": message})


def register(
    session: Session, values: Mapping[str, Any], *, now: datetime, channel: str
) -> Preregistration:
    """Preregister a person: eligible today, not already booked, not already preregistered."""
    if channel not in CHANNELS:
        raise ValueError(channel)
    fields = parse(session, values, today=now.date(), channel=channel)
    if already_booked(session, fields["person_key"], fields["service"]):
        raise AlreadyBooked(
            N_("You already have an appointment for this vaccine; there is nothing to wait for.")
        )
    active = select(Preregistration.id).where(
        Preregistration.person_key == fields["person_key"], Preregistration.status.in_(ACTIVE)
    )
    if session.scalar(active) is not None:
        raise _refuse_duplicate()
    prereg = Preregistration(
        **fields,
        status=PreregistrationStatus.WAITING.value,
        channel=channel,
        token_nonce=secrets.token_hex(16),
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():  # a racing twin is refused by the partial unique index
            session.add(prereg)
            session.flush()
    except IntegrityError:
        raise _refuse_duplicate() from None
    return prereg


def standing(session: Session, prereg: Preregistration) -> Standing:
    """Where the person stands: their group, their status, and how many in their group have
    been invited so far."""
    invited = session.scalar(
        select(func.count(Invitation.id))
        .join(Preregistration, Preregistration.id == Invitation.preregistration_id)
        .where(
            Preregistration.service == prereg.service,
            Preregistration.priority_group == prereg.priority_group,
        )
    )
    return Standing(prereg.priority_group, prereg.priority_rank, prereg.status, invited or 0)


def _active(session: Session, prereg_id: int) -> Preregistration:
    prereg = session.get(Preregistration, prereg_id, with_for_update=True)
    if prereg is None:
        raise NotFound(_NOT_FOUND)
    if prereg.status not in ACTIVE:
        raise Conflict(N_("This preregistration is closed and can no longer be changed."))
    return prereg


def update_details(
    session: Session, prereg_id: int, values: Mapping[str, Any], *, now: datetime
) -> Preregistration:
    """Change how to reach the person, where and how far, language, product and needs.

    Name, date of birth and eligibility answers are who the person is and which group they are
    in: to change those, withdraw and preregister again."""
    prereg = _active(session, prereg_id)
    errors: dict[str, str] = {}
    merged = {"service": prereg.service, **values}
    found = _details(session, merged, errors)
    phone = email = None
    if values.get("phone") not in (None, ""):
        phone = normalize_phone(values.get("phone"))
        if phone is None:
            errors["phone"] = N_("Enter a 10-digit US phone number, like 617-555-0123.")
    if values.get("email") not in (None, ""):
        try:
            email = parse_person(
                {**_identity(prereg), "email": values.get("email")},
                today=now.date(),
                require_attestation=False,
            ).email
        except InvalidInput as exc:
            errors["email"] = exc.errors.get("email", exc.detail)
    if phone is None and email is None and prereg.callback_phone is None and not errors:
        errors["phone"] = N_("Enter a phone number or an email address so we can reach you.")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    for name, value in {**found, "phone": phone, "email": email}.items():
        setattr(prereg, name, value)
    prereg.updated_at = now
    return prereg


def _identity(prereg: Preregistration) -> dict[str, str]:
    return {
        "first_name": prereg.first_name,
        "last_name": prereg.last_name,
        "date_of_birth": prereg.date_of_birth.isoformat(),
    }


def withdraw(session: Session, prereg_id: int, *, now: datetime) -> Preregistration:
    """Withdraw: no more invitations, and the record is deleted after the retention time.

    Withdrawing again is a no-op (a replayed request changes nothing)."""
    prereg = session.get(Preregistration, prereg_id, with_for_update=True)
    if prereg is None:
        raise NotFound(_NOT_FOUND)
    if prereg.status == PreregistrationStatus.WITHDRAWN.value:
        return prereg
    if prereg.status not in ACTIVE:
        raise Conflict(N_("This preregistration is closed and can no longer be changed."))
    prereg.status = PreregistrationStatus.WITHDRAWN.value
    prereg.closed_at = prereg.updated_at = now
    _decline_live_invitations(session, prereg.id, now=now)
    return prereg


def _decline_live_invitations(session: Session, prereg_id: int, *, now: datetime) -> None:
    """Withdrawing while invited declines the invitation: its link books nothing more, the day
    no longer counts it as out, and its place goes where the round sends unused ones."""
    live = session.scalars(
        select(Invitation)
        .where(
            Invitation.preregistration_id == prereg_id,
            Invitation.status == InvitationStatus.SENT.value,
        )
        .with_for_update()
    ).all()
    for invitation in live:
        invitation.status = InvitationStatus.DECLINED.value
        invitation.closed_at = now
        session.flush()
        round_ = session.get(InvitationRound, invitation.round_id)
        if round_ is not None and round_.on_expiry == OnExpiry.PUBLIC.value:
            invitations.give_back(session, invitation.clinic_id, invitation.day, 1, now=now)


def purge(session: Session, *, now: datetime, retention_days: int) -> int:
    """Close the preregistrations of people vaccinated here, then delete every one closed more
    than ``retention_days`` ago; return how many were deleted."""
    vaccinated = select(Reservation.id).where(
        Reservation.person_key == Preregistration.person_key,
        Reservation.service == Preregistration.service,
        Reservation.status == ReservationStatus.CHECKED_IN.value,
    )
    session.execute(
        update(Preregistration)
        .where(Preregistration.closed_at.is_(None), vaccinated.exists())
        .values(status=PreregistrationStatus.VACCINATED.value, closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    cutoff = now - timedelta(days=retention_days)
    result = session.execute(
        delete(Preregistration)
        .where(Preregistration.closed_at.is_not(None), Preregistration.closed_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def find_active(session: Session, first_name: str, last_name: str, born: date) -> Preregistration:
    """A caller's active preregistration, found by name and date of birth (the person key)."""
    found = session.scalar(
        select(Preregistration).where(
            Preregistration.person_key == person_key(first_name, last_name, born),
            Preregistration.status.in_(ACTIVE),
        )
    )
    if found is None:
        raise NotFound(N_("No active preregistration matches these details."))
    return found
