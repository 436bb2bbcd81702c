"""The clinic systems API under real threads: identical batches at once, a revocation mid-batch."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from booking.db import db
from booking.models import AuditEntry, ClinicApiBatch, ClinicApiKey, Slot
from booking.services import api_keys, clinic_api
from booking.services.errors import InvalidInput
from tests.api.clinic_keys import at, new_slot, push, two_clinics
from tests.support import run_together


def test_two_identical_batches_at_once_are_applied_once(committed_app, clock):
    world = two_clinics(committed_app, clock())
    items = [new_slot(f"P-{i}", at(clock(), minute=15 * i)) for i in range(3)]
    answers = run_together(
        2, lambda i: push(committed_app.test_client(), world["a"], world["key_a"], items, "same")
    )
    assert [r.status_code for r in answers] == [200, 200]
    assert sorted(r.headers.get("Idempotent-Replayed", "no") for r in answers) == ["no", "true"]
    assert answers[0].get_json() == answers[1].get_json()
    with committed_app.app_context():
        s = db.session
        assert s.scalar(select(func.count(Slot.id))) == 3
        assert s.scalar(select(func.count(ClinicApiBatch.id))) == 1
        prefix = s.get(ClinicApiKey, world["key_a_id"]).prefix
        details = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "clinic_api.batch")
        ).all()
        assert sorted(d["replayed"] for d in details if d["key"] == prefix) == [False, True]


def test_a_revocation_during_a_batch_waits_for_it_and_refuses_the_next(
    committed_app, clock, monkeypatch
):
    """The batch holds its key's row: the revocation lands after it, whole, never inside it."""
    world = two_clinics(committed_app, clock())
    real = clinic_api._apply
    revoker: list[threading.Thread] = []

    def revoke() -> None:
        with committed_app.app_context():
            db.transaction(
                lambda s: api_keys.revoke_key(s, world["a"], world["key_a_id"], now=clock())
            )

    def apply_then_revoke(*args, **kwargs):
        done = real(*args, **kwargs)
        if not revoker:  # after the first item: revoke from another connection
            revoker.append(threading.Thread(target=revoke))
            revoker[0].start()
        return done

    monkeypatch.setattr(clinic_api, "_apply", apply_then_revoke)
    items = [new_slot(f"Q-{i}", at(clock(), minute=15 * i)) for i in range(3)]
    client = committed_app.test_client()
    response = push(client, world["a"], world["key_a"], items, "mid")
    revoker[0].join()
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["slots"]) == 3
    with committed_app.app_context():
        assert db.session.scalar(select(func.count(Slot.id))) == 3
        key = db.session.get(ClinicApiKey, world["key_a_id"])
        assert key.revoked_at is not None
    later = push(client, world["a"], world["key_a"], [new_slot("Q-9", at(clock(), hour=11))], "n")
    assert later.status_code == 401


def test_managers_making_keys_at_once_never_pass_the_cap(committed_app, clock, monkeypatch):
    world = two_clinics(committed_app, clock())  # clinic A has one live key
    with committed_app.app_context():
        for i in range(api_keys.MAX_KEYS - 2):
            db.transaction(
                lambda s, i=i: api_keys.create_key(
                    s, world["a"], f"k{i}", secret_key="s", actor=None, now=clock()
                )
            )

    def make(i):
        with committed_app.app_context():
            try:
                db.transaction(
                    lambda s: api_keys.create_key(
                        s, world["a"], f"race{i}", secret_key="s", actor=None, now=clock()
                    )
                )
                return "made"
            except InvalidInput:
                return "refused"

    # Widen the gap between counting the live keys and adding one, so that without the lock
    # every thread would count 19 and all of them would add a key.
    real_secret = api_keys._new_secret

    def slow_secret():
        time.sleep(0.1)
        return real_secret()

    monkeypatch.setattr(api_keys, "_new_secret", slow_secret)
    outcomes = run_together(8, make)
    assert outcomes.count("made") == 1  # the 20th; the others are refused
    with committed_app.app_context():
        live = db.session.scalar(
            select(func.count(ClinicApiKey.id)).where(
                ClinicApiKey.clinic_id == world["a"], ClinicApiKey.revoked_at.is_(None)
            )
        )
        assert live == api_keys.MAX_KEYS
