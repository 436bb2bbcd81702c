"""The retention purge: residents' data goes 90 days after the appointment, a slot at a time,
a course whole, expired holds after a day; nothing recent is touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.models import OutboxDelivery, OutboxMessage, Reservation, Slot
from booking.services import holds, retention
from booking.services.sweep import release_expired_holds
from tests.services.course_world import PFIZER_MIN, book
from tests.support import make_clinic, make_slot


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_old_slots_go_with_their_bookings_and_messages_and_recent_ones_stay(session, now):
    clinic = make_clinic(session, now)
    old = make_slot(session, clinic, now + timedelta(days=1))
    recent = make_slot(session, clinic, now + timedelta(days=10))
    old_booking = book(session, old.id, now, n=1).reservation
    book(session, recent.id, now, n=2)
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.reservation_id == old_booking.id)
    ).first()
    session.add(
        OutboxDelivery(
            message_id=message.id, attempt=1, claimed_at=now, lease_until=now, sent_at=now
        )
    )
    session.flush()
    later = now + timedelta(days=1 + retention.RESIDENT_DAYS, hours=1)

    done = retention.purge(session, now=later)
    assert (done.slots, done.reservations) == (1, 1)
    assert done.messages >= 1
    assert session.get(Slot, old.id, populate_existing=True) is None
    assert count(session, Reservation, Reservation.slot_id == old.id) == 0
    assert count(session, OutboxMessage, OutboxMessage.reservation_id == old_booking.id) == 0
    assert count(session, OutboxDelivery) == 0
    kept = session.get(Slot, recent.id, populate_existing=True)
    assert (kept.booked, count(session, Reservation, Reservation.slot_id == recent.id)) == (1, 1)
    assert retention.purge(session, now=later) == retention.Purged(0, 0, 0, 0)


def test_expired_holds_go_after_a_day_and_live_ones_never(session, now):
    clinic = make_clinic(session, now)
    slot = make_slot(session, clinic, now + timedelta(days=5))
    lapsed = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
    assert release_expired_holds(session, now=now + timedelta(minutes=11)) == 1
    live = holds.place_hold(session, slot.id, now=now + timedelta(hours=25), hold_minutes=10)

    assert retention.purge(session, now=now + timedelta(hours=23)).expired_holds == 0
    done = retention.purge(session, now=now + timedelta(hours=25))
    assert (done.expired_holds, done.slots) == (1, 0)
    ids = set(session.scalars(select(Reservation.hold_token)))
    assert lapsed.hold_token not in ids and live.hold_token in ids


def test_a_course_is_deleted_whole_once_its_second_dose_is_past_the_window(session, now, course):
    _, first, seconds = course
    done = book(session, first.id, now)
    second = done.second_dose
    # Dose 1 is past the window but dose 2 (21 days later) is not: the course stays whole.
    between = first.starts_at + timedelta(days=retention.RESIDENT_DAYS + 1)
    assert retention.purge(session, now=between).reservations == 0
    assert session.get(Reservation, done.reservation.id, populate_existing=True) is not None
    # Past both: dose 2's slot and dose 1's go, in one batch or over several.
    after = seconds[PFIZER_MIN].starts_at + timedelta(days=retention.RESIDENT_DAYS + 1)
    purged = [retention.purge(session, now=after, batch=1) for _ in range(60)]
    assert sum(p.reservations for p in purged) == 2
    assert session.get(Reservation, second.id, populate_existing=True) is None
    assert session.get(Reservation, done.reservation.id, populate_existing=True) is None


@pytest.mark.parametrize("days", [0, -1])
def test_a_retention_under_a_day_is_refused(session, now, days):
    with pytest.raises(ValueError, match="at least a day"):
        retention.purge(session, now=now, resident_days=days)


def test_the_purge_command_applies_the_configured_retention(app):
    result = app.test_cli_runner().invoke(args=["purge", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "Purged 0 slots older than 90 days with 0 reservations" in result.output


def test_clinic_system_batches_go_after_their_replay_window(session, now):
    from booking.models import ClinicApiBatch

    clinic = make_clinic(session, now)
    for key, age in (("old", retention.BATCH_DAYS + 1), ("recent", retention.BATCH_DAYS - 1)):
        session.add(
            ClinicApiBatch(
                clinic_id=clinic.id,
                idempotency_key=key,
                request_hash="0" * 64,
                created_at=now - timedelta(days=age),
                result={},
                items=1,
            )
        )
    session.flush()
    assert retention.purge(session, now=now).batches == 1
    assert set(session.scalars(select(ClinicApiBatch.idempotency_key))) == {"recent"}
