"""The sender's bookkeeping (claim, sent, failed), the relay's query, and the admins' operations.

A send goes in three steps, each its own committed transaction or network call:

1. ``claim``: under the message's row lock, decide. Already sent, failed or cancelled: nothing
   to do. Someone else's claim still within its lease: nothing to do. Otherwise count the
   attempt and take a lease in the message's one ``outbox_delivery`` row.
2. Call the provider with an idempotency key derived from the message id (SMTP Message-ID, the
   SMS API's idempotency header), so a repeat of this exact message is recognisable.
3. ``record_sent`` (or ``record_failure``, which schedules a retry or gives up).

A crash before 1 leaves the message queued; between 1 and 3 leaves a lease that runs out, after
which the message is claimed again and sent with the same key. After 3, nothing is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from booking.models import (
    MessageKind,
    MessageStatus,
    OutboxDelivery,
    OutboxMessage,
    Reservation,
    ReservationStatus,
    Slot,
)
from booking.services.errors import Conflict, NotFound
from booking.services.notices import note_for_dispatch
from booking.services.text import N_

QUEUED = MessageStatus.QUEUED.value
SENDING = MessageStatus.SENDING.value
SENT = MessageStatus.SENT.value
FAILED = MessageStatus.FAILED.value
CANCELLED = MessageStatus.CANCELLED.value
FINISHED = (SENT, FAILED, CANCELLED)
MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class Claim:
    """What the sender should do with a message, decided under the message's row lock."""

    action: Literal["send", "skip", "wait"]
    message_id: int
    attempt: int = 0
    reason: str = ""
    due_at: datetime | None = None


def _locked(session: Session, message_id: int) -> OutboxMessage | None:
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _stale_reminder(session: Session, message: OutboxMessage, now: datetime) -> str | None:
    """Why a reminder must not go out any more, or None if it still should."""
    reservation = session.get(Reservation, message.reservation_id, populate_existing=True)
    if reservation is None or reservation.status != ReservationStatus.CONFIRMED:
        return "the appointment is no longer booked"
    if reservation.slot_id != message.payload.get("slot_id"):
        return "the appointment moved"
    slot = session.get(Slot, reservation.slot_id)
    if slot is None or slot.starts_at <= now:
        return "the appointment has already started"
    return None


def claim(session: Session, message_id: int, *, now: datetime, lease_seconds: int) -> Claim:
    """Decide whether to send a message now and, if so, take the lease on it."""
    message = _locked(session, message_id)
    if message is None:
        return Claim("skip", message_id, reason="no such message")
    if message.status in FINISHED:
        return Claim("skip", message_id, reason=f"already {message.status}")
    if message.next_attempt_at > now:
        return Claim("wait", message_id, reason="not due yet", due_at=message.next_attempt_at)
    if message.kind == MessageKind.REMINDER:
        stale = _stale_reminder(session, message, now)
        if stale:
            message.status = CANCELLED
            message.last_error = stale
            message.updated_at = now
            return Claim("skip", message_id, reason=stale)
    delivery = session.get(OutboxDelivery, message_id, populate_existing=True)
    if delivery is not None and delivery.sent_at is not None:
        # Sent, but the bookkeeping after it was lost: repair it, never send again.
        message.status, message.sent_at = SENT, delivery.sent_at
        message.provider_message_id = delivery.provider_message_id
        return Claim("skip", message_id, reason="already sent")
    if message.status == SENDING and delivery is not None and delivery.lease_until > now:
        return Claim("skip", message_id, reason="another worker is sending it")
    attempt = message.attempts + 1
    lease_until = now + timedelta(seconds=lease_seconds)
    if delivery is None:
        session.add(
            OutboxDelivery(
                message_id=message_id, attempt=attempt, claimed_at=now, lease_until=lease_until
            )
        )
    else:
        delivery.attempt, delivery.claimed_at, delivery.lease_until = attempt, now, lease_until
    message.status = SENDING
    message.attempts = attempt
    message.updated_at = now
    return Claim("send", message_id, attempt=attempt)


def record_sent(
    session: Session, message_id: int, *, now: datetime, provider_message_id: str | None
) -> None:
    """Record that the provider accepted the message: from now on it is never sent again."""
    message = _locked(session, message_id)
    if message is None:
        return
    delivery = session.get(OutboxDelivery, message_id, populate_existing=True)
    if delivery is None:  # pragma: no cover - claim always writes it first
        raise Conflict(N_("A message was sent without a claim."))
    if delivery.sent_at is None:
        delivery.sent_at = now
        delivery.provider_message_id = provider_message_id
    message.status = SENT
    message.sent_at = delivery.sent_at
    message.provider_message_id = delivery.provider_message_id
    message.last_error = None
    message.updated_at = now


def backoff_seconds(attempt: int, retry_seconds: int) -> int:
    """Wait after the ``attempt``-th failure: doubling from ``retry_seconds``, at most an hour."""
    return int(min(MAX_BACKOFF_SECONDS, retry_seconds * 2 ** max(0, attempt - 1)))


def retry_intervals(max_attempts: int, retry_seconds: int) -> list[int]:
    """The waits between attempts, for the job queue's own retry schedule."""
    return [backoff_seconds(n, retry_seconds) for n in range(1, max(1, max_attempts))]


def record_failure(
    session: Session,
    message_id: int,
    *,
    now: datetime,
    error: str,
    permanent: bool,
    max_attempts: int,
    retry_seconds: int,
) -> datetime | None:
    """Record a failed attempt; return when to try again, or None if the message failed."""
    message = _locked(session, message_id)
    if message is None or message.status in FINISHED:
        return None
    delivery = session.get(OutboxDelivery, message_id, populate_existing=True)
    if delivery is not None:
        delivery.lease_until = now  # the claim is over: anyone may try again when due
    message.last_error = error[:500]
    message.updated_at = now
    if permanent or message.attempts >= max_attempts:
        message.status = FAILED
        return None
    message.status = QUEUED
    message.next_attempt_at = now + timedelta(
        seconds=backoff_seconds(message.attempts, retry_seconds)
    )
    return message.next_attempt_at


def relay_candidates(
    session: Session, *, now: datetime, horizon: timedelta, after_id: int = 0, limit: int = 500
) -> list[tuple[int, str, datetime]]:
    """Messages that should be in the job queue by now: (id, status, next_attempt_at).

    Queued messages due before ``now + horizon``, and sends whose lease ran out (their worker
    died). The relay checks each against the job queue and enqueues the ones it lacks.
    """
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.next_attempt_at)
        .outerjoin(OutboxDelivery, OutboxDelivery.message_id == OutboxMessage.id)
        .where(
            OutboxMessage.status.in_((QUEUED, SENDING)),
            OutboxMessage.next_attempt_at <= now + horizon,
            OutboxMessage.id > after_id,
            or_(
                OutboxMessage.status == QUEUED,
                OutboxDelivery.lease_until.is_(None),
                OutboxDelivery.lease_until <= now,
            ),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    return [(int(i), str(s), at) for i, s, at in rows]


def list_messages(
    session: Session,
    *,
    statuses: tuple[str, ...] | None = None,
    reservation_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[OutboxMessage]:
    """Messages newest first, optionally only in some states or for one reservation."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(max(1, min(limit, 500)))
    if statuses:
        query = query.where(OutboxMessage.status.in_(statuses))
    if reservation_id is not None:
        query = query.where(OutboxMessage.reservation_id == reservation_id)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    return list(session.scalars(query))


def retry_failed(session: Session, message_id: int, *, now: datetime) -> OutboxMessage:
    """Give a failed message a fresh set of attempts, due now (an admin's retry)."""
    message = _locked(session, message_id)
    if message is None:
        raise NotFound(N_("No message with that id."))
    if message.status != FAILED:
        raise Conflict(
            N_(
                "Only a failed message can be retried; this one is %(status)s.",
                status=message.status,
            )
        )
    message.status = QUEUED
    message.attempts = 0
    message.next_attempt_at = now
    message.updated_at = now
    note_for_dispatch(session, message)
    return message
