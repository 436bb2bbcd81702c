"""The admin's invitation round as a job: at a million preregistrations it takes minutes, longer
than a web request may (gunicorn ends a worker after 30 s), so the page enqueues it and a worker
draws the round and writes it, batch by batch, each batch committed on its own."""

from __future__ import annotations

from typing import Any

from booking.clock import now
from booking.db import db
from booking.jobs.queue import get_queue
from booking.models import StaffUser
from booking.services import invitation_rounds
from booking.services.staff import record_audit

ROUND_JOB = "booking.jobs.rounds.run_invitation_round"
# Ample for a million people on a busy machine (10 minutes measured); a round left open by a
# worker that died is closed by the next round an hour on (invitation_rounds.STALE).
ROUND_TIMEOUT_SECONDS = 3600


def enqueue_round(settings: dict[str, Any], staff_id: int | None) -> None:
    """Queue a round with these settings (already checked), asked for by ``staff_id``."""
    get_queue().enqueue(
        ROUND_JOB, settings, staff_id, job_timeout=ROUND_TIMEOUT_SECONDS, result_ttl=600
    )


def run_invitation_round(settings: dict[str, Any], staff_id: int | None) -> int:
    """Draw and write the round, then audit it under the staff member who asked; its id."""

    def done(session: Any, record: Any) -> None:
        staff = session.get(StaffUser, staff_id) if staff_id is not None else None
        record_audit(
            session,
            actor=staff,
            action="invitations.round",
            now=now(),
            record_type="invitation_round",
            record_id=record.id,
            detail={
                "seed": record.seed,
                "over_invitation": record.over_invitation,
                "places": sum(record.places.values()),
                "eligible": record.eligible,
                "pool": len(record.pool),
                "skipped": len(record.skipped or []),
                "result_digest": record.result_digest,
            },
        )

    return invitation_rounds.run_round_in_batches(
        db.transaction,
        service=settings["service"],
        now=now(),
        over_invitation=float(settings["over_invitation"]),
        expires_hours=int(settings["expires_hours"]),
        on_expiry=settings["on_expiry"],
        staff_id=staff_id,
        when_done=done,
    )
