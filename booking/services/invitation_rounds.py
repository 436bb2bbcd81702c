"""Invitation rounds: open a round's record, draw it, write its invitations and messages.

``run_round`` does all of it in the caller's transaction (standby offers, tests);
``run_round_in_batches`` draws in one transaction and writes the invitations and their messages
in short ones, so a round of thousands of invitations holds no row a booking needs for longer
than one batch, and the waiting room and bookings carry on while it runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import (
    Invitation,
    InvitationRound,
    OnExpiry,
    Preregistration,
    PreregistrationStatus,
)
from booking.models.invitations import MAX_OVER_INVITATION
from booking.services.errors import Conflict, InvalidInput
from booking.services.invitation_draw import Drawn, chunks, draw_round, eligible_filter
from booking.services.invitations import BUSY, SENT, digest, queue_messages
from booking.services.text import N_

T = TypeVar("T")
BATCH = 2000  # invitations written (and committed, in batches) at a time


class Transact(Protocol):
    """Runs a unit of work and commits it (``db.transaction``)."""

    def __call__(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` with a session, commit, and return what it returned."""


# A round left unfinished this long was abandoned by its writer (it died): the next closes it.
STALE = timedelta(hours=1)


def check_settings(over_invitation: float, expires_hours: int, on_expiry: str) -> None:
    """Refuse a round's settings outside their ranges, all problems at once."""
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


def check_not_busy(session: Session, service: str) -> None:
    """Refuse while a round of ``service`` is being written (``Conflict``)."""
    busy = select(InvitationRound.id).where(
        InvitationRound.service == service, InvitationRound.finished_at.is_(None)
    )
    if session.scalar(busy) is not None:
        raise Conflict(BUSY)


def open_round(
    session: Session, *, service: str, now: datetime, **settings: Any
) -> InvitationRound:
    """Start a round's record, refused while another round of the vaccine is being written."""
    session.execute(
        update(InvitationRound)
        .where(
            InvitationRound.service == service,
            InvitationRound.finished_at.is_(None),
            InvitationRound.created_at < now - STALE,
        )
        .values(finished_at=now)
    )
    check_not_busy(session, service)
    record = InvitationRound(
        service=service, pool=[], places={}, result_digest="", created_at=now, **settings
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError as exc:  # another round started between the check and the insert
        raise Conflict(BUSY) from exc
    return record


def write_batch(
    session: Session,
    round_id: int,
    service: str,
    batch: Sequence[tuple[int, str]],
    targets: Mapping[str, tuple[int, date, datetime]],
    *,
    now: datetime,
    expires_hours: int,
) -> list[list[Any]]:
    """Invite a batch of the chosen and queue their messages; return those skipped because
    they stopped waiting (booked, withdrew) since the draw."""
    wanted = dict(batch)
    invited = set(
        session.scalars(
            update(Preregistration)
            .where(
                Preregistration.id.in_(list(wanted)),
                eligible_filter(service, short_notice=False),
            )
            .values(status=PreregistrationStatus.INVITED.value, updated_at=now)
            .returning(Preregistration.id)
        )
    )
    rows = []
    for prereg_id, key in batch:
        if prereg_id not in invited:
            continue
        clinic_id, day, last = targets[key]
        rows.append(
            {
                "round_id": round_id,
                "preregistration_id": prereg_id,
                "clinic_id": clinic_id,
                "day": day,
                "status": SENT,
                "token_nonce": secrets.token_hex(16),
                # Never past the day's last released time: nobody is told to book a gone place.
                "expires_at": min(now + timedelta(hours=expires_hours), last),
                "created_at": now,
            }
        )
    if rows:
        made = session.execute(
            insert(Invitation).returning(
                Invitation.id, Invitation.preregistration_id, sort_by_parameter_order=True
            ),
            rows,
        ).all()
        queue_messages(session, [(i, p) for i, p in made], now=now)
    return [[p, key] for p, key in batch if p not in invited]


def _settings(
    over_invitation: float, expires_hours: int, on_expiry: str, seed: str | None, staff_id: Any
) -> dict[str, Any]:
    check_settings(over_invitation, expires_hours, on_expiry)
    return {
        "over_invitation": over_invitation,
        "expires_hours": expires_hours,
        "on_expiry": on_expiry,
        "seed": seed or secrets.token_hex(16),
        "created_by": staff_id,
    }


def _start(
    session: Session, service: str, now: datetime, settings: dict[str, Any], **how: Any
) -> tuple[InvitationRound, Drawn]:
    record = open_round(session, service=service, now=now, **settings)
    drawn = draw_round(
        session,
        service=service,
        now=now,
        seed=settings["seed"],
        over_invitation=settings["over_invitation"],
        **how,
    )
    record.places, record.pool, record.eligible = drawn.places, drawn.pool, drawn.eligible
    record.result_digest = digest(drawn.chosen)
    session.flush()
    return record, drawn


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
    and write the invitations, all in the caller's transaction."""
    settings = _settings(over_invitation, expires_hours, on_expiry, seed, staff_id)
    record, drawn = _start(session, service, now, settings, only=only, short_notice=short_notice)
    skipped: list[list[Any]] = []
    for batch in chunks(drawn.chosen, BATCH):
        skipped += write_batch(
            session, record.id, service, batch, drawn.targets, now=now, expires_hours=expires_hours
        )
    record.skipped, record.finished_at = skipped, now
    session.flush()
    return record


def run_round_in_batches(
    transact: Transact,
    *,
    service: str,
    now: datetime,
    over_invitation: float = 1.0,
    expires_hours: int = 24,
    on_expiry: str = OnExpiry.NEXT_ROUND.value,
    seed: str | None = None,
    staff_id: int | None = None,
    batch_size: int = BATCH,
    after_batch: Callable[[int], None] | None = None,
    when_done: Callable[[Session, InvitationRound], None] | None = None,
) -> int:
    """Draw a round in one transaction (``transact`` runs and commits a unit of work), then
    write its invitations ``batch_size`` at a time, each batch in its own short transaction
    (``after_batch`` is told how many are written: 0 once the draw is committed), then close
    it (``when_done`` runs in that last transaction). Return the round's id."""
    settings = _settings(over_invitation, expires_hours, on_expiry, seed, staff_id)

    def start(s: Session) -> tuple[int, Drawn]:
        record, drawn = _start(s, service, now, settings, only=None, short_notice=False)
        return record.id, drawn

    round_id, drawn = transact(start)
    skipped: list[list[Any]] = []

    def finish(s: Session) -> None:
        record = s.get_one(InvitationRound, round_id)
        record.skipped, record.finished_at = skipped, now
        s.flush()
        if when_done is not None:
            when_done(s, record)

    try:
        written = 0
        if after_batch is not None:
            after_batch(0)  # the draw is committed, nothing written yet
        for batch in chunks(drawn.chosen, batch_size):

            def write(s: Session, batch: Sequence[tuple[int, str]] = batch) -> list[list[Any]]:
                return write_batch(
                    s, round_id, service, batch, drawn.targets, now=now, expires_hours=expires_hours
                )

            skipped += transact(write)
            written += len(batch)
            if after_batch is not None:
                after_batch(written)
    finally:
        transact(finish)
    return round_id
