"""Invitation rounds at scale: the streamed draw chooses exactly as ``draw`` over the whole pool,
the admin's round commits in batches, bookings go on while it is being written, and the funnel
per round and clinic counts what happened."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import Clinic, Invitation, InvitationRound, Preregistration
from booking.services import (
    invitation_draw,
    invitation_links,
    invitation_report,
    invitation_rounds,
    invitations,
    preregistration,
)
from booking.services.errors import Conflict
from booking.services.geo import distance_miles
from tests.preregistration.support import signup
from tests.support import make_clinic, make_slot, person_json

SECRET = "invite-secret"


def full_pool(session, service, now):
    """The whole pool as the round drew from it before it streamed: everyone waiting with the
    releases they reach, nearest first (what ``draw`` was always given)."""
    releases = invitations.releases_of(session, service, now)
    pool = []
    for p in session.scalars(
        select(Preregistration).where(Preregistration.status == "waiting").order_by("id")
    ):
        reach = []
        for key, entry in releases.items():
            if p.product_id is not None and p.product_id not in entry["products"]:
                continue
            clinic = entry["clinic"]
            distance = distance_miles(p.latitude, p.longitude, clinic.latitude, clinic.longitude)
            if distance <= p.travel_miles:
                reach.append((distance, key))
        if reach:
            pool.append([p.id, p.priority_rank, [k for _d, k in sorted(reach)]])
    return pool


@pytest.mark.parametrize("seed", ["s1", "s2", "s3"])
def test_the_streamed_draw_chooses_as_draw_does_over_the_whole_pool(session, now, seed):
    tomorrow = now + timedelta(days=1)
    boston = make_clinic(session, now)
    near = make_clinic(session, now, latitude=42.36, longitude=-71.06)
    worcester = make_clinic(
        session, now, city="Worcester", postal_code="01602", latitude=42.27, longitude=-71.80
    )
    for clinic in (boston, near, worcester):
        for day in (0, 1):
            make_slot(session, clinic, tomorrow + timedelta(days=day, hours=1), capacity=3)
    for i in range(40):
        zip_code = ("02115", "01602", "02139", "01201")[i % 4]  # 01201: Pittsfield, far off
        preregistration.register(
            session, signup(i, zip=zip_code, travel_miles=str(5 + i % 30)), now=now, channel="api"
        )
    for clinic in (boston, near, worcester):
        for day in (0, 1):
            invitations.release_places(
                session,
                clinic.id,
                (tomorrow + timedelta(days=day, hours=1)).date(),
                2,
                service="covid19",
                now=now,
            )
    pool = full_pool(session, "covid19", now)
    record = invitations.run_round(session, service="covid19", now=now, seed=seed)
    expected = invitations.draw(pool, record.places, seed)
    written = session.execute(
        select(Invitation.preregistration_id, Invitation.clinic_id, Invitation.day).where(
            Invitation.round_id == record.id
        )
    ).all()
    assert {(p, invitations.release_key(c, d)) for p, c, d in written} == set(expected)
    assert len(expected) == sum(record.places.values()) == 12
    # The round keeps only the part of the lottery order it reached, and replays from it.
    assert len(record.pool) < len(pool) and record.eligible >= len(pool)
    assert invitations.replay(session, record.id)


def test_the_lottery_order_is_draws_order():
    seed = "abc"
    rows = [(i, i % 3) for i in range(1, 300)]
    packed = sorted(invitation_draw.sort_key(seed.encode(), rank, i) for i, rank in rows)
    mask = (1 << invitation_draw.ID_BITS) - 1
    assert [k & mask for k in packed] == [
        i for i, rank in sorted(rows, key=lambda r: (r[1], invitations.lottery_key(seed, r[0])))
    ]


@pytest.fixture
def crowd(committed_app, clock):
    """40 people waiting near a Boston clinic with 25 places released tomorrow."""
    now = clock()
    with committed_app.app_context():

        def setup(s):
            clinic = make_clinic(s, now)
            released = make_slot(s, clinic, now + timedelta(days=1), capacity=25)
            public = make_slot(s, clinic, now + timedelta(days=1, hours=1), capacity=5)
            for i in range(40):
                preregistration.register(s, signup(i), now=now, channel="online")
            invitations.release_places(
                s, clinic.id, (now + timedelta(days=1)).date(), 25, service="covid19", now=now
            )
            return released.id, public.id

        released_id, public_id = db.transaction(setup)
    return committed_app, now, released_id, public_id


def _committed_invitations(app):
    """What another connection sees: the latest round's invitations."""
    with app.app_context(), db.engine.connect() as other:
        latest = select(func.max(InvitationRound.id)).scalar_subquery()
        return other.scalar(
            select(func.count()).select_from(Invitation).where(Invitation.round_id == latest)
        )


def test_a_round_commits_its_invitations_in_batches(crowd):
    app, now, _released, _public = crowd
    seen = []
    with app.app_context():

        def look(written):
            seen.append((written, _committed_invitations(app)))

        round_id = invitation_rounds.run_round_in_batches(
            db.transaction, service="covid19", now=now, batch_size=10, after_batch=look
        )
        record = db.session.get(InvitationRound, round_id)
        assert record.finished_at is not None and record.skipped == []
        assert invitations.replay(db.session, round_id)
    # Another connection sees each batch as soon as it is written: committed one by one.
    assert seen == [(0, 0), (10, 10), (20, 20), (25, 25)]


def test_while_a_round_is_written_no_other_round_or_release_starts(crowd):
    app, now, _released, _public = crowd
    refused = []
    with app.app_context():

        def meddle(written):
            if written:
                return
            for work in (
                lambda s: invitation_rounds.run_round(s, service="covid19", now=now),
                lambda s: invitations.release_places(
                    s,
                    s.scalar(select(Clinic.id)),
                    (now + timedelta(days=1)).date(),
                    1,
                    service="covid19",
                    now=now,
                ),
            ):
                with app.app_context():
                    try:
                        db.transaction(work)
                    except Conflict as exc:
                        refused.append(exc.detail)

        invitation_rounds.run_round_in_batches(
            db.transaction, service="covid19", now=now, batch_size=10, after_batch=meddle
        )
        assert len(refused) == 2 and set(refused) == {invitations.BUSY}
        # Once it is finished, the next round may run (nothing is left to invite to).
        assert invitation_rounds.run_round(db.session, service="covid19", now=now).places == {}


def test_someone_who_stopped_waiting_during_the_round_is_skipped_and_replay_holds(crowd):
    app, now, _released, _public = crowd
    gone = []
    with app.app_context():

        def withdraw_one_chosen(written):
            if written:
                return
            with app.app_context():
                record = db.session.scalars(
                    select(InvitationRound).where(InvitationRound.finished_at.is_(None))
                ).one()
                chosen = record.pool[0][0] if record.pool else None
                person = db.session.get(Preregistration, chosen)
                person.status, person.closed_at = "withdrawn", now
                db.session.commit()
                gone.append(chosen)

        round_id = invitation_rounds.run_round_in_batches(
            db.transaction,
            service="covid19",
            now=now,
            batch_size=10,
            after_batch=withdraw_one_chosen,
        )
        record = db.session.get(InvitationRound, round_id)
        invited = set(
            db.session.scalars(
                select(Invitation.preregistration_id).where(Invitation.round_id == round_id)
            )
        )
        # Drawn, but withdrawn before their batch was written: recorded as skipped, not invited.
        assert gone and gone[0] not in invited and len(invited) == 24
        assert [p for p, _key in record.skipped] == gone
        assert invitations.replay(db.session, round_id)
        # A record claiming someone else was skipped does not replay.
        record.skipped = [[next(iter(invited)), record.skipped[0][1]]]
        db.session.flush()
        assert not invitations.replay(db.session, round_id)
        db.session.rollback()


def test_bookings_go_on_while_a_round_is_paused_between_batches(crowd):
    app, now, released_id, public_id = crowd
    if app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite has one writer at a time: the lock test is PostgreSQL's")
    paused, resume = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def pause(written):
        if written == 10:
            paused.set()
            resume.wait(timeout=60)

    def round_thread():
        with app.app_context():
            try:
                invitation_rounds.run_round_in_batches(
                    db.transaction, service="covid19", now=now, batch_size=10, after_batch=pause
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)

    running = threading.Thread(target=round_thread)
    running.start()
    try:
        assert paused.wait(timeout=60)
        booked = {}

        def book():
            client = app.test_client()
            held = client.post(
                "/api/v1/holds", json={"slot_id": public_id}, headers={"Idempotency-Key": "k1"}
            )
            done = client.post(
                f"/api/v1/holds/{held.get_json()['hold_id']}/confirm", json=person_json(3)
            )
            booked["public"] = done.status_code
            with app.app_context():
                first = db.session.scalars(select(Invitation).order_by(Invitation.id)).first()
                db.transaction(
                    lambda s: invitation_links.book(
                        s, first.id, released_id, "1950-04-27", now=now, secret_key=SECRET
                    )
                )
                booked["invited"] = db.session.get(Invitation, first.id).status

        booking = threading.Thread(target=book)
        booking.start()
        booking.join(timeout=30)
        # Both bookings finished while the round still waits, half written.
        assert not booking.is_alive()
        assert running.is_alive() and booked == {"public": 201, "invited": "booked"}
        with app.app_context():
            open_round = db.session.scalars(select(InvitationRound)).one()
            assert open_round.finished_at is None
    finally:
        resume.set()
        running.join(timeout=60)
    assert not failures


def test_the_funnel_per_round_and_clinic(session, now):
    tomorrow = now + timedelta(days=1)
    boston = make_clinic(session, now, name="Boston Clinic")
    worcester = make_clinic(
        session,
        now,
        name="Worcester Clinic",
        city="Worcester",
        postal_code="01602",
        latitude=42.27,
        longitude=-71.80,
    )
    for clinic in (boston, worcester):
        make_slot(session, clinic, tomorrow + timedelta(hours=1), capacity=5)
    for i in range(6):
        preregistration.register(session, signup(i), now=now, channel="online")
    for i in range(6, 9):
        preregistration.register(
            session, signup(i, zip="01602", travel_miles="5"), now=now, channel="online"
        )
    day = (tomorrow + timedelta(hours=1)).date()
    invitations.release_places(session, boston.id, day, 4, service="covid19", now=now)
    invitations.release_places(session, worcester.id, day, 2, service="covid19", now=now)
    first = invitations.run_round(session, service="covid19", now=now, seed="f")
    at = {
        clinic.id: session.scalars(
            select(Invitation).where(Invitation.clinic_id == clinic.id).order_by(Invitation.id)
        ).all()
        for clinic in (boston, worcester)
    }
    assert [len(at[boston.id]), len(at[worcester.id])] == [4, 2]
    at[boston.id][0].status, at[boston.id][0].closed_at = "declined", now
    at[boston.id][1].status, at[boston.id][1].closed_at = "expired", now
    at[worcester.id][0].status, at[worcester.id][0].closed_at = "expired", now
    session.flush()
    second = invitations.run_round(session, service="covid19", now=now, over_invitation=1.5)
    rows = invitation_report.funnel_by_clinic(session, [first, second])
    got = [(r.id, c.name, places, dict(counts)) for r, c, places, counts in rows]
    # The second round: 4 places at Boston (6 offers, 2 still out), 2 at Worcester (3, 1 out),
    # for the 2 and 1 people still waiting there; newest round first, clinics by name.
    assert got == [
        (second.id, "Boston Clinic", 4, {"sent": 2}),
        (second.id, "Worcester Clinic", 2, {"sent": 1}),
        (first.id, "Boston Clinic", 4, {"declined": 1, "expired": 1, "sent": 2}),
        (first.id, "Worcester Clinic", 2, {"expired": 1, "sent": 1}),
    ]
    only = invitation_report.funnel_by_clinic(session, [first], clinic_id=worcester.id)
    assert [(r.id, c.name) for r, c, _p, _n in only] == [(first.id, "Worcester Clinic")]
    assert invitation_report.acceptance(only[0][3]) == 0.0
