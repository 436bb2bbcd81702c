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
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from booking.models import (
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
    Slot,
)
from booking.models.invitations import MAX_OVER_INVITATION as MAX_OVER_INVITATION
from booking.services.errors import Conflict, NotFound
from booking.services.inventory import local_day_bounds
from booking.services.notices import note_for_dispatch
from booking.services.text import N_

SENT = InvitationStatus.SENT.value
BUSY = N_("Another round for this vaccine is being written: try again in a minute.")


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
    writing = select(InvitationRound.id).where(
        InvitationRound.service == service, InvitationRound.finished_at.is_(None)
    )
    if session.scalar(writing) is not None:
        raise Conflict(BUSY)
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


def run_round(session: Session, **settings: Any) -> InvitationRound:
    """Draw and write a round in the caller's transaction: ``invitation_rounds.run_round``."""
    from booking.services import invitation_rounds

    return invitation_rounds.run_round(session, **settings)


def write_messages(
    session: Session,
    written: Sequence[Invitation],
    *,
    now: datetime,
    kind: MessageKind = MessageKind.INVITATION,
) -> None:
    """Queue each invitation's messages (see ``queue_messages``)."""
    queue_messages(session, [(i.id, i.preregistration_id) for i in written], now=now, kind=kind)


def queue_messages(
    session: Session,
    written: Sequence[tuple[int, int]],
    *,
    now: datetime,
    kind: MessageKind = MessageKind.INVITATION,
) -> None:
    """One message per (invitation id, preregistration id) and channel the person gave (none
    for call-back only: the 2-1-1 line sees the invitation on the caller's page), sent after the
    transaction commits: the invitation itself, or (``INVITATION_ENDED``) word that its places
    were filled. Written in one multi-row insert per call."""
    people = {
        row.id: row
        for row in session.execute(
            select(
                Preregistration.id,
                Preregistration.phone,
                Preregistration.email,
                Preregistration.locale,
            ).where(Preregistration.id.in_([p for _i, p in written]))
        )
    }
    rows = []
    for invitation_id, prereg_id in written:
        prereg = people[prereg_id]
        for channel, recipient in (
            (MessageChannel.SMS, prereg.phone),
            (MessageChannel.EMAIL, prereg.email),
        ):
            if recipient is None:
                continue
            rows.append(
                {
                    "invitation_id": invitation_id,
                    "kind": kind.value,
                    "channel": channel.value,
                    "recipient": recipient,
                    "locale": prereg.locale,
                    "revision": 0,
                    "dedupe_key": f"{kind.value}:{invitation_id}:{channel.value}",
                    "payload": {},
                    "status": MessageStatus.QUEUED.value,
                    "attempts": 0,
                    "send_after": now,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if not rows:
        return
    made = session.execute(
        insert(OutboxMessage).returning(
            OutboxMessage.id, OutboxMessage.status, OutboxMessage.next_attempt_at
        ),
        rows,
    ).all()
    for message in made:
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
    # Drawn but no longer waiting when their batch was written: drawn, never invited.
    stored |= {(p, key) for p, key in record.skipped or []}
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
