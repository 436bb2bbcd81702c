"""Invitation rounds: release places for invitees, draw who is invited, book with the link.

The draw is a pure function of its inputs (``draw``): eligible people in the order of their
priority group, then of a keyed hash of their id under the round's seed (a lottery no one can
steer without the seed, and that the seed reproduces), each given the nearest released clinic
and day within their travel distance that offers their product and still has room. The round
stores the seed, the pool and the places it drew from, and a digest of what it chose, so
``replay`` draws it again from the record and compares.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, true, update
from sqlalchemy.orm import Session

from booking.models import (
    BOOKED_STATUSES,
    Clinic,
    Invitation,
    InvitationRound,
    InvitationStatus,
    MessageChannel,
    MessageKind,
    MessageStatus,
    OnExpiry,
    OutboxMessage,
    Preregistration,
    PreregistrationStatus,
    Reservation,
    Slot,
)
from booking.models.invitations import MAX_OVER_INVITATION
from booking.services.errors import Conflict, InvalidInput, NotFound
from booking.services.inventory import local_day_bounds
from booking.services.notices import note_for_dispatch
from booking.services.text import N_

SENT = InvitationStatus.SENT.value


def release_key(clinic_id: int, day: date) -> str:
    """How a round names a clinic's released places on one day."""
    return f"{clinic_id}:{day.isoformat()}"


# --- Releasing places -------------------------------------------------------------------------


def release_places(
    session: Session, clinic_id: int, day: date, places: int, *, service: str, now: datetime
) -> int:
    """Set aside ``places`` of a clinic's day for invitees (replacing what was set aside), taken
    from places nobody holds, has booked or has set aside for phone callers; return how many."""
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound(N_("No clinic with that id."))
    if live_invitations(session, clinic_id, day):
        raise Conflict(N_("Invitations to this day are still open: change it after they end."))
    start, end = local_day_bounds(day, clinic.timezone)
    slots = session.scalars(
        select(Slot)
        .where(
            Slot.clinic_id == clinic_id,
            Slot.service == service,
            Slot.starts_at >= max(start, now),
            Slot.starts_at < end,
            Slot.is_open.is_(True),
        )
        .order_by(Slot.starts_at, Slot.id)
        .with_for_update()
    ).all()
    left = places
    for slot in slots:
        room = slot.capacity - slot.held - slot.booked - slot.phone_reserved
        slot.invite_reserved = max(0, min(left, room))
        left -= slot.invite_reserved
    session.flush()
    return places - left


def live_invitations(session: Session, clinic_id: int, day: date) -> int:
    """How many invitations are out (sent, not yet ended) for a clinic's day."""
    return (
        session.scalar(
            select(func.count(Invitation.id)).where(
                Invitation.clinic_id == clinic_id, Invitation.day == day, Invitation.status == SENT
            )
        )
        or 0
    )


# --- The draw ---------------------------------------------------------------------------------


def lottery_key(seed: str, prereg_id: int) -> str:
    """A person's place in their group's lottery: a keyed hash of their id under the seed."""
    return hmac.new(seed.encode(), str(prereg_id).encode(), hashlib.sha256).hexdigest()


def draw(
    pool: Sequence[Sequence[Any]], places: Mapping[str, int], seed: str
) -> list[tuple[int, str]]:
    """Who is invited where: ``pool`` rows are [id, rank, [release keys, nearest first]]."""
    left = {key: count for key, count in places.items() if count > 0}
    chosen: list[tuple[int, str]] = []
    for prereg_id, _rank, keys in sorted(pool, key=lambda row: (row[1], lottery_key(seed, row[0]))):
        if not left:
            break
        key = next((k for k in keys if left.get(k, 0) > 0), None)
        if key is not None:
            chosen.append((prereg_id, key))
            left[key] -= 1
            if not left[key]:
                del left[key]
    return chosen


def digest(chosen: Iterable[tuple[int, str]]) -> str:
    """A digest of a draw's result, to compare a replay with."""
    text = json.dumps(sorted([list(pair) for pair in chosen]), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def releases_of(session: Session, service: str, now: datetime) -> dict[str, dict[str, Any]]:
    """Each clinic and day with places set aside for invitees: the places and the products."""
    rows = session.execute(
        select(Slot.clinic_id, Slot.starts_at, Slot.invite_reserved, Slot.product_id, Clinic)
        .join(Clinic, Clinic.id == Slot.clinic_id)
        .where(
            Slot.service == service,
            Slot.invite_reserved > 0,
            Slot.is_open.is_(True),
            Slot.starts_at > now,
            Clinic.active.is_(True),
        )
    ).all()
    found: dict[str, dict[str, Any]] = {}
    for clinic_id, starts_at, reserved, product_id, clinic in rows:
        day = starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
        entry = found.setdefault(
            release_key(clinic_id, day),
            {"clinic": clinic, "day": day, "reserved": 0, "products": set(), "last": starts_at},
        )
        entry["last"] = max(entry["last"], starts_at)
        entry["reserved"] += reserved
        entry["products"].add(product_id)
    return found


def _pool(
    session: Session,
    service: str,
    releases: Mapping[str, Mapping[str, Any]],
    *,
    short_notice: bool = False,
) -> list[Any]:
    """Everyone waiting for ``service``, not booked, with the releases they can reach (with
    ``short_notice``, only those who asked for same-day offers)."""
    from booking.services.geo import distance_miles

    booked = exists().where(
        Reservation.person_key == Preregistration.person_key,
        Reservation.service == Preregistration.service,
        Reservation.status.in_([s.value for s in BOOKED_STATUSES]),
    )
    rows = session.execute(
        select(
            Preregistration.id,
            Preregistration.priority_rank,
            Preregistration.latitude,
            Preregistration.longitude,
            Preregistration.travel_miles,
            Preregistration.product_id,
        ).where(
            Preregistration.service == service,
            Preregistration.status == PreregistrationStatus.WAITING.value,
            ~booked,
            Preregistration.short_notice.is_(True) if short_notice else true(),
        )
    ).all()
    pool = []
    for prereg_id, rank, lat, lon, miles, product_id in rows:
        reachable = []
        for key, entry in releases.items():
            clinic = entry["clinic"]
            if product_id is not None and product_id not in entry["products"]:
                continue
            distance = distance_miles(lat, lon, clinic.latitude, clinic.longitude)
            if distance <= miles:
                reachable.append((distance, key))
        if reachable:
            pool.append([prereg_id, rank, [key for _d, key in sorted(reachable)]])
    return sorted(pool)


def run_round(
    session: Session,
    *,
    service: str,
    now: datetime,
    over_invitation: float = 1.0,
    expires_hours: int = 24,
    on_expiry: str = OnExpiry.NEXT_ROUND.value,
    seed: str | None = None,
    staff_id: int | None = None,
    only: str | None = None,
    short_notice: bool = False,
) -> InvitationRound:
    """Draw a round for every clinic and day with released places (or the one ``only`` names,
    a ``release_key``), among everyone waiting (or those who asked for short-notice offers),
    and write the invitations. The pool drawn from is kept, so a replay needs neither filter."""
    errors: dict[str, str] = {}
    if not 1.0 <= over_invitation <= MAX_OVER_INVITATION:
        errors["over_invitation"] = N_(
            "Invite from 1 to %(most)s times as many people as places.", most=MAX_OVER_INVITATION
        )
    if not 1 <= expires_hours <= 168:
        errors["expires_hours"] = N_("Give the invitations 1 to 168 hours.")
    if on_expiry not in {choice.value for choice in OnExpiry}:
        errors["on_expiry"] = N_("Choose what happens to unused places.")
    if errors:
        raise InvalidInput(N_("Please correct the round's settings."), errors=errors)
    releases = releases_of(session, service, now)
    if only is not None:
        releases = {key: entry for key, entry in releases.items() if key == only}
    places: dict[str, int] = {}
    for key, entry in releases.items():
        clinic_id, _day = key.split(":")
        live = live_invitations(session, int(clinic_id), entry["day"])
        room = math.floor(entry["reserved"] * over_invitation + 1e-9) - live
        if room > 0:
            places[key] = room
    pool = _pool(
        session, service, {key: releases[key] for key in places}, short_notice=short_notice
    )
    seed = seed or secrets.token_hex(16)
    chosen = draw(pool, places, seed)
    record = InvitationRound(
        service=service,
        seed=seed,
        over_invitation=over_invitation,
        expires_hours=expires_hours,
        on_expiry=on_expiry,
        pool=pool,
        places=places,
        result_digest=digest(chosen),
        created_at=now,
        created_by=staff_id,
    )
    session.add(record)
    session.flush()
    written = []
    for prereg_id, key in chosen:
        clinic_id, _day = key.split(":")
        written.append(
            Invitation(
                round_id=record.id,
                preregistration_id=prereg_id,
                clinic_id=int(clinic_id),
                day=releases[key]["day"],
                status=SENT,
                token_nonce=secrets.token_hex(16),
                # Never past the day's last released time: nobody is told to book a gone place.
                expires_at=min(now + timedelta(hours=expires_hours), releases[key]["last"]),
                created_at=now,
            )
        )
    session.add_all(written)
    session.flush()
    write_messages(session, written, now=now)
    invited = [prereg_id for prereg_id, _key in chosen]
    if invited:
        session.execute(
            update(Preregistration)
            .where(Preregistration.id.in_(invited))
            .values(status=PreregistrationStatus.INVITED.value, updated_at=now)
        )
    session.flush()
    return record


def write_messages(
    session: Session,
    written: Sequence[Invitation],
    *,
    now: datetime,
    kind: MessageKind = MessageKind.INVITATION,
) -> None:
    """One message per invitation and channel the person gave (none for call-back only: the
    2-1-1 line sees the invitation on the caller's page), sent after the transaction commits:
    the invitation itself, or (``INVITATION_ENDED``) word that its places were filled."""
    people = {
        p.id: p
        for p in session.scalars(
            select(Preregistration).where(
                Preregistration.id.in_([i.preregistration_id for i in written])
            )
        )
    }
    for invitation in written:
        prereg = people[invitation.preregistration_id]
        for channel, recipient in (
            (MessageChannel.SMS, prereg.phone),
            (MessageChannel.EMAIL, prereg.email),
        ):
            if recipient is None:
                continue
            message = OutboxMessage(
                invitation_id=invitation.id,
                kind=kind.value,
                channel=channel.value,
                recipient=recipient,
                locale=prereg.locale,
                revision=0,
                dedupe_key=f"{kind.value}:{invitation.id}:{channel.value}",
                payload={},
                status=MessageStatus.QUEUED.value,
                attempts=0,
                send_after=now,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(message)
            note_for_dispatch(session, message)


def replay(session: Session, round_id: int) -> bool:
    """Draw a round again from its record: True when the same people were invited, to the same
    clinics and days, as the record and the invitations it wrote say."""
    record = session.get(InvitationRound, round_id)
    if record is None:
        raise NotFound(N_("No such round."))
    again = draw(record.pool, record.places, record.seed)
    written = session.execute(
        select(Invitation.preregistration_id, Invitation.clinic_id, Invitation.day).where(
            Invitation.round_id == round_id
        )
    ).all()
    stored = {(p, release_key(c, d)) for p, c, d in written}
    return digest(again) == record.result_digest and set(again) == stored


# --- Expiry -----------------------------------------------------------------------------------


def expire(session: Session, *, now: datetime) -> int:
    """End the invitations past their expiry: their people wait again, and their places go to
    the next round or back to public booking, as the round chose. Return how many ended."""
    ended = session.execute(
        select(Invitation, InvitationRound.on_expiry)
        .join(InvitationRound, InvitationRound.id == Invitation.round_id)
        .where(Invitation.status == SENT, Invitation.expires_at <= now)
        .with_for_update(of=Invitation)
    ).all()
    public: dict[tuple[int, date], int] = defaultdict(int)
    for invitation, on_expiry in ended:
        invitation.status = InvitationStatus.EXPIRED.value
        invitation.closed_at = now
        session.execute(
            update(Preregistration)
            .where(
                Preregistration.id == invitation.preregistration_id,
                Preregistration.status == PreregistrationStatus.INVITED.value,
            )
            .values(status=PreregistrationStatus.WAITING.value, updated_at=now)
        )
        if on_expiry == OnExpiry.PUBLIC.value:
            public[(invitation.clinic_id, invitation.day)] += 1
    session.flush()
    for (clinic_id, day), count in public.items():
        give_back(session, clinic_id, day, count, now=now)
    return len(ended)


def give_back(session: Session, clinic_id: int, day: date, count: int, *, now: datetime) -> None:
    """Return up to ``count`` released places to public booking, keeping one for every live
    invitation still out for the day."""
    clinic = session.get(Clinic, clinic_id)
    assert clinic is not None
    start, end = local_day_bounds(day, clinic.timezone)
    slots = session.scalars(
        select(Slot)
        .where(Slot.clinic_id == clinic_id, Slot.starts_at >= start, Slot.starts_at < end)
        .where(Slot.invite_reserved > 0)
        .order_by(Slot.starts_at.desc(), Slot.id.desc())
        .with_for_update()
    ).all()
    spare = sum(slot.invite_reserved for slot in slots) - live_invitations(session, clinic_id, day)
    left = min(count, max(0, spare))
    for slot in slots:
        take = min(left, slot.invite_reserved)
        slot.invite_reserved -= take
        left -= take
    session.flush()
