"""The messages a booking change owes the resident, written in the same transaction as the change.

Confirming, cancelling and moving an appointment call these with the caller's session: the
outbox rows commit or roll back with the booking itself, so a booking that commits always has
its messages and a rolled-back one has none. Each row is also noted in ``session.info`` for the
after-commit hook, which hands it to a worker by id; rows the hook misses, the relay finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking import correlation
from booking.models import (
    MessageChannel,
    MessageKind,
    MessageStatus,
    OutboxMessage,
    Reservation,
    ReservationStatus,
    Slot,
)

# The session.info key booking.db empties on rollback and hands to its after-commit hooks on
# commit; defined here, Flask-free, so services can note what they leave for those hooks.
AFTER_COMMIT = "fairslot.after_commit"
QUEUED = MessageStatus.QUEUED.value


@dataclass(frozen=True)
class NoticePolicy:
    """Which messages to write: reminder lead times, the resident's language, or none at all."""

    reminder_hours: tuple[int, ...] = (24, 2)
    locale: str = "en"
    enabled: bool = True


DEFAULT_NOTICES = NoticePolicy()
SILENT = NoticePolicy(enabled=False)  # e.g. the demo's background bookings


class Dispatchable(Protocol):
    """What the after-commit hook reads of a message: an outbox row, or a row that names one."""

    @property
    def id(self) -> int:
        """The outbox row's id."""

    @property
    def status(self) -> str:
        """Its status."""

    @property
    def next_attempt_at(self) -> datetime:
        """When it is due."""


def note_for_dispatch(session: Session, message: Dispatchable) -> None:
    """Remember a new or changed message so the after-commit hook can enqueue or unschedule it."""
    pending: dict[str, list[Any]] = session.info.setdefault(AFTER_COMMIT, {})
    pending.setdefault("outbox", []).append(message)


def take_for_dispatch(session: Session) -> list[Dispatchable]:
    """The messages noted by the unit of work that just committed (emptied as it is read)."""
    pending: dict[str, list[Any]] = session.info.get(AFTER_COMMIT, {})
    messages: list[Dispatchable] = pending.pop("outbox", [])
    return messages


def _channels(reservation: Reservation) -> list[tuple[MessageChannel, str]]:
    """The channels the resident chose, by the contact details they gave."""
    chosen = []
    if reservation.email:
        chosen.append((MessageChannel.EMAIL, reservation.email))
    if reservation.phone:
        chosen.append((MessageChannel.SMS, reservation.phone))
    return chosen


def _latest_revision(session: Session, reservation_id: int) -> int:
    latest = session.scalar(
        select(func.max(OutboxMessage.revision)).where(
            OutboxMessage.reservation_id == reservation_id
        )
    )
    return int(latest or 0)


def _locale(reservation: Reservation) -> str:
    """The language the resident booked in, stored on the reservation."""
    return reservation.locale or "en"


def _slot_payload(slot: Slot) -> dict[str, Any]:
    return {
        "slot_id": slot.id,
        "clinic_id": slot.clinic_id,
        "starts_at": slot.starts_at.isoformat(),
    }


def _write(
    session: Session,
    reservation: Reservation,
    *,
    kind: MessageKind,
    key: str,
    revision: int,
    send_after: datetime,
    payload: dict[str, Any],
    locale: str,
    now: datetime,
) -> list[OutboxMessage]:
    written = []
    for channel, recipient in _channels(reservation):
        message = OutboxMessage(
            reservation_id=reservation.id,
            kind=kind.value,
            channel=channel.value,
            recipient=recipient,
            locale=locale,
            revision=revision,
            dedupe_key=f"{reservation.id}:{key}:{channel.value}",
            # Which request wrote it, so the worker's log lines about it carry the same id.
            payload={**payload, "request_id": correlation.current()},
            status=QUEUED,
            attempts=0,
            send_after=send_after,
            next_attempt_at=send_after,
            created_at=now,
            updated_at=now,
        )
        session.add(message)
        note_for_dispatch(session, message)
        written.append(message)
    return written


def _reminders(
    session: Session,
    reservation: Reservation,
    slot: Slot,
    *,
    revision: int,
    policy: NoticePolicy,
    locale: str,
    now: datetime,
) -> list[OutboxMessage]:
    written = []
    for hours in policy.reminder_hours:
        send_after = slot.starts_at - timedelta(hours=hours)
        if send_after <= now:
            continue  # booked closer than that: the confirmation itself is the reminder
        written += _write(
            session,
            reservation,
            kind=MessageKind.REMINDER,
            key=f"reminder:{hours}h:r{revision}",
            revision=revision,
            send_after=send_after,
            payload={**_slot_payload(slot), "hours_before": hours},
            locale=locale,
            now=now,
        )
    return written


def _second_dose_payload(session: Session, second: Reservation, *, sequence: int) -> dict[str, Any]:
    """Dose 2 of a course, as dose 1's messages name it (one message covers both).

    ``sequence`` is the SEQUENCE of dose 2's own calendar event in the attached .ics: counted
    on dose 2's revisions, so a later message about dose 2 alone still outranks it.
    """
    slot = session.get(Slot, second.slot_id)
    assert slot is not None
    return {
        **_slot_payload(slot),
        "reservation_id": second.id,
        "confirmation_code": second.confirmation_code,
        "sequence": sequence,
    }


def _kept_second_dose(session: Session, first: Reservation) -> dict[str, Any] | None:
    """A course's dose 2 that stays as it was while dose 1 moves or ends (named, unchanged)."""
    second = session.scalars(
        select(Reservation).where(
            Reservation.course_id == first.id,
            Reservation.status == ReservationStatus.CONFIRMED.value,
        )
    ).first()
    if second is None:
        return None
    return _second_dose_payload(session, second, sequence=_latest_revision(session, second.id))


def booking_confirmed(
    session: Session,
    reservation: Reservation,
    slot: Slot,
    *,
    now: datetime,
    policy: NoticePolicy,
    second: Reservation | None = None,
) -> list[OutboxMessage]:
    """Write the confirmation, due now, and the reminders, due before the appointment.

    A course's ``second`` dose is named in dose 1's confirmation and has its own reminders.
    """
    if not policy.enabled:
        return []
    payload = _slot_payload(slot)
    if second is not None:
        payload["second_dose"] = _second_dose_payload(session, second, sequence=0)
    written = _write(
        session,
        reservation,
        kind=MessageKind.CONFIRMATION,
        key="confirmation",
        revision=0,
        send_after=now,
        payload=payload,
        locale=_locale(reservation),
        now=now,
    )
    written += _reminders(
        session, reservation, slot, revision=0, policy=policy, locale=_locale(reservation), now=now
    )
    if second is not None:
        second_slot = session.get(Slot, second.slot_id)
        assert second_slot is not None
        written += _reminders(
            session, second, second_slot, revision=0, policy=policy, locale=_locale(second), now=now
        )
    return written


def cancel_reminders(session: Session, reservation_id: int, *, now: datetime) -> int:
    """Cancel the reminders still waiting, so a job that fires for one anyway sends nothing."""
    waiting = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.reservation_id == reservation_id,
            OutboxMessage.kind == MessageKind.REMINDER.value,
            OutboxMessage.status == QUEUED,
        )
    ).all()
    for message in waiting:
        message.status = MessageStatus.CANCELLED.value
        message.updated_at = now
        note_for_dispatch(session, message)
    return len(waiting)


def booking_moved(
    session: Session,
    reservation: Reservation,
    old_slot: Slot,
    new_slot: Slot,
    *,
    now: datetime,
    policy: NoticePolicy,
    second: tuple[Reservation, Slot, Slot] | None = None,
) -> list[OutboxMessage]:
    """Drop the old reminders; write the reschedule notice and reminders for the new time.

    ``second``: a course's dose 2 moved with it (dose 2, its old slot, its new slot), named in
    the same notice, with its reminders rewritten.
    """
    cancel_reminders(session, reservation.id, now=now)
    if second is not None:
        cancel_reminders(session, second[0].id, now=now)
    if not policy.enabled:
        return []
    # The caller holds the reservation's row lock, so concurrent moves number revisions in turn.
    revision = _latest_revision(session, reservation.id) + 1
    locale = _locale(reservation)
    payload = {
        **_slot_payload(new_slot),
        "previous_slot_id": old_slot.id,
        "previous_clinic_id": old_slot.clinic_id,
        "previous_starts_at": old_slot.starts_at.isoformat(),
    }
    # Dose 2's reminders are its own row's: numbered after its own latest revision, which is
    # also the SEQUENCE of its calendar event in this notice.
    second_revision = 0 if second is None else _latest_revision(session, second[0].id) + 1
    if second is not None:
        payload["second_dose"] = {
            **_second_dose_payload(session, second[0], sequence=second_revision),
            "previous_starts_at": second[1].starts_at.isoformat(),
        }
    elif (kept := _kept_second_dose(session, reservation)) is not None:
        payload["second_dose_kept"] = kept
    written = _write(
        session,
        reservation,
        kind=MessageKind.RESCHEDULE,
        key=f"reschedule:r{revision}",
        revision=revision,
        send_after=now,
        payload=payload,
        locale=locale,
        now=now,
    )
    written += _reminders(
        session, reservation, new_slot, revision=revision, policy=policy, locale=locale, now=now
    )
    if second is not None:
        moved, _, second_slot = second
        written += _reminders(
            session,
            moved,
            second_slot,
            revision=second_revision,
            policy=policy,
            locale=_locale(moved),
            now=now,
        )
    return written


def booking_cancelled(
    session: Session,
    reservation: Reservation,
    slot: Slot,
    *,
    now: datetime,
    policy: NoticePolicy,
    by_clinic: bool = False,
    reason: str | None = None,
    second: Reservation | None = None,
) -> list[OutboxMessage]:
    """Drop the waiting reminders and write the cancellation notice (the clinic's, if it was).

    A course's ``second`` dose cancelled with it is named in the same notice.
    """
    cancel_reminders(session, reservation.id, now=now)
    if second is not None:
        cancel_reminders(session, second.id, now=now)
    if not policy.enabled:
        return []
    payload = _slot_payload(slot)
    if second is not None:
        # Its event ends too: one above the last revision it was published with.
        sequence = _latest_revision(session, second.id) + 1
        payload["second_dose"] = _second_dose_payload(session, second, sequence=sequence)
    elif (kept := _kept_second_dose(session, reservation)) is not None:
        payload["second_dose_kept"] = kept  # dose 1 given elsewhere: dose 2 stays
    if reason:
        payload["reason"] = reason
    return _write(
        session,
        reservation,
        kind=MessageKind.CLINIC_CANCELLATION if by_clinic else MessageKind.CANCELLATION,
        # One cancellation notice per reservation, whoever cancelled: it can only end once.
        key="cancellation",
        revision=_latest_revision(session, reservation.id),
        send_after=now,
        payload=payload,
        locale=_locale(reservation),
        now=now,
    )
