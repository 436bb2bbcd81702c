"""The state admin's invitations page: release places, run a round (its seed audited), and
the funnel; bad settings come back on the form."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from booking.db import db
from booking.models import AuditEntry, Invitation, InvitationRound, Slot
from booking.services import invitations, preregistration
from tests.jobs.support import run_jobs
from tests.preregistration.support import signup
from tests.staff.support import admin_client
from tests.support import csrf_from, make_clinic, make_slot


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def test_release_run_and_follow_a_round(app, admin, clock):
    now = clock()
    with app.app_context():
        clinic = make_clinic(db.session, now)
        make_slot(db.session, clinic, now + timedelta(days=1), capacity=4)
        for i in range(5):
            preregistration.register(db.session, signup(i), now=now, channel="online")
        db.session.commit()
        clinic_id = clinic.id
    day = (now + timedelta(days=1)).date().isoformat()
    csrf = csrf_from(admin.get("/admin/invitations").get_data(as_text=True))
    bad = admin.post(
        "/admin/invitations/release",
        data={
            "csrf_token": csrf,
            "clinic_id": clinic_id,
            "day": "x",
            "places": "-1",
            "service": "covid19",
        },
    )
    assert bad.status_code == 422
    page = admin.post(
        "/admin/invitations/release",
        data={
            "csrf_token": csrf,
            "clinic_id": clinic_id,
            "day": day,
            "places": "3",
            "service": "covid19",
        },
    ).get_data(as_text=True)
    assert "3 places released for invitees." in page
    for factor in ("0.5", "nan", "inf", "x"):
        refused = admin.post(
            "/admin/invitations/rounds",
            data={
                "csrf_token": csrf,
                "service": "covid19",
                "over_invitation": factor,
                "expires_hours": "24",
                "on_expiry": "public",
            },
        )
        assert refused.status_code == 422, factor
    ran = admin.post(
        "/admin/invitations/rounds",
        data={
            "csrf_token": csrf,
            "service": "covid19",
            "over_invitation": "1",
            "expires_hours": "24",
            "on_expiry": "public",
        },
    )
    assert ran.status_code == 303
    # A worker draws and writes it (minutes at a million people): nothing yet, then the round.
    with app.app_context():
        assert db.session.scalars(select(InvitationRound)).all() == []
    assert run_jobs(app)
    with app.app_context():
        record = db.session.scalars(select(InvitationRound)).one()
        assert len(db.session.scalars(select(Invitation)).all()) == 3
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "invitations.round")
        ).one()
        assert entry.detail["seed"] == record.seed
        seed = record.seed
        assert invitations.replay(db.session, record.id)
        assert sum(s.invite_reserved for s in db.session.scalars(select(Slot))) == 3
    page = admin.get("/admin/invitations").get_data(as_text=True)
    assert seed in page and "Invited" in page
    assert "check your messages" not in page  # the residents' words, not the admin's
    assert "Acceptance rate" in page and "None ended yet" in page


def test_a_round_is_refused_while_one_is_written_or_when_it_cannot_be_queued(
    app, admin, clock, monkeypatch
):
    from booking.jobs import rounds

    form = {
        "service": "covid19",
        "over_invitation": "1",
        "expires_hours": "24",
        "on_expiry": "public",
    }
    csrf = csrf_from(admin.get("/admin/invitations").get_data(as_text=True))
    with app.app_context():
        db.session.add(
            InvitationRound(
                service="covid19",
                seed="open",
                over_invitation=1.0,
                expires_hours=24,
                on_expiry="public",
                pool=[],
                places={},
                result_digest="",
                created_at=clock(),
            )
        )
        db.session.commit()
    busy = admin.post("/admin/invitations/rounds", data={"csrf_token": csrf, **form})
    assert busy.status_code == 409
    assert "being written" in busy.get_data(as_text=True)
    assert not run_jobs(app)  # nothing was queued
    with app.app_context():
        db.session.execute(update(InvitationRound).values(finished_at=clock()))
        db.session.commit()

    def down(*_args):
        raise ConnectionError("queue down")

    monkeypatch.setattr(rounds, "get_queue", lambda: SimpleNamespace(enqueue=down))
    refused = admin.post("/admin/invitations/rounds", data={"csrf_token": csrf, **form})
    assert refused.status_code == 503
    assert "could not be started" in refused.get_data(as_text=True)


def test_other_roles_cannot_open_it(app, clock, accounts):
    assert app.test_client().get("/admin/invitations").status_code == 302
