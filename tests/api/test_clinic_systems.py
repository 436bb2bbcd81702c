"""The clinic systems API: slot batches by a clinic's own ids, its roster, and its keys' limits."""

from __future__ import annotations

import hmac
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import (
    AuditEntry,
    Clinic,
    ClinicApiBatch,
    ClinicApiKey,
    OutboxMessage,
    Reservation,
    Slot,
)
from booking.services import api_keys
from tests.api.clinic_keys import BASE, at, book, new_slot, push, slot_by_external, two_clinics
from tests.staff.support import signed_in_client
from tests.support import make_slot, one_dose_product


@pytest.fixture
def world(app, clock):
    return two_clinics(app, clock())


def test_a_batch_creates_resizes_and_closes_by_the_clinics_own_ids(app, client, clock, world):
    a, key = world["a"], world["key_a"]
    items = [new_slot("EHR-1", at(clock())), new_slot("EHR-2", at(clock(), minute=15))]
    first = push(client, a, key, items, "batch-1")
    assert first.status_code == 200, first.get_json()
    assert [s["outcome"] for s in first.get_json()["slots"]] == ["created", "created"]
    assert "Idempotent-Replayed" not in first.headers
    again = push(client, a, key, items, "batch-1")
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        s = db.session
        assert s.scalar(select(func.count(Slot.id)).where(Slot.clinic_id == a)) == 2
        booked = slot_by_external(s, a, "EHR-2")
        book(s, booked.id, clock())
    changes = [
        {"external_id": "EHR-1", "capacity": 9},
        {"external_id": "EHR-2", "closed": True, "reason": "Power cut"},
    ]
    second = push(client, a, key, changes, "batch-2")
    assert second.status_code == 200, second.get_json()
    assert [s["outcome"] for s in second.get_json()["slots"]] == ["updated", "closed"]
    assert second.get_json()["slots"][1]["bookings_cancelled"] == 1
    with app.app_context():
        s = db.session
        assert slot_by_external(s, a, "EHR-1").capacity == 9
        assert slot_by_external(s, a, "EHR-2").is_open is False
        assert s.scalar(select(Reservation.status)) == "cancelled"
        assert s.scalar(select(func.count(OutboxMessage.id))) >= 2  # booked, then cancelled
        key_row = s.get(ClinicApiKey, world["key_a_id"])
        # The audit log is append-only, so committed tests' entries stay: this key's are found
        # by its random prefix.
        mine = [
            e
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
            if e.detail.get("key") == key_row.prefix
        ]
        actions = [e.action for e in mine]
        assert actions.count("clinic_api.batch") == 3  # every use, the replay too
        assert {e.clinic_id for e in mine} == {a} and key.startswith(key_row.prefix + "_")
        assert key_row.last_used_at == clock()


def test_a_slot_the_console_made_is_adopted_by_its_time(app, client, clock, world):

    a, key = world["a"], world["key_a"]
    start = at(clock())
    with app.app_context():
        s = db.session
        clinic = s.get(Clinic, a)
        flu = one_dose_product(s, "flu").id
        make_slot(s, clinic, start, capacity=3, service="flu", product_id=flu)
        closed = make_slot(s, clinic, at(clock(), hour=10), service="flu", product_id=flu)
        closed.is_open = False
        s.commit()
    adopted = push(client, a, key, [new_slot("OLD-1", start, capacity=5)], "adopt")
    assert adopted.get_json()["slots"][0]["outcome"] == "adopted"
    with app.app_context():
        assert slot_by_external(db.session, a, "OLD-1").capacity == 5
        assert db.session.scalar(select(func.count(Slot.id)).where(Slot.clinic_id == a)) == 2
    refused = push(client, a, key, [new_slot("OLD-2", at(clock(), hour=10))], "closed")
    assert refused.status_code == 409


def test_a_failing_item_leaves_the_whole_batch_unwritten(app, client, clock, world):
    a, key = world["a"], world["key_a"]
    push(client, a, key, [new_slot("X-1", at(clock()), capacity=2)], "one")
    with app.app_context():
        slot = slot_by_external(db.session, a, "X-1")
        book(db.session, slot.id, clock(), 1)
        book(db.session, slot.id, clock(), 2)
    items = [new_slot("X-2", at(clock(), minute=30)), {"external_id": "X-1", "capacity": 1}]
    refused = push(client, a, key, items, "two")
    assert refused.status_code == 409
    assert refused.get_json()["errors"][0]["pointer"] == "#/slots/1/capacity"
    with app.app_context():
        assert slot_by_external(db.session, a, "X-2") is None
        assert db.session.scalar(select(func.count(ClinicApiBatch.id))) == 1
    # The key was not spent on a refused batch: fixed, it goes through.
    items[1]["capacity"] = 3
    assert push(client, a, key, items, "two").status_code == 200


@pytest.mark.parametrize(
    ("item", "status", "field"),
    [
        ({"capacity": True}, 422, "capacity"),
        ({"capacity": 1001}, 422, "capacity"),
        ({"service": "measles"}, 422, "service"),
        ({"minutes": 300}, 422, "ends_at"),
        ({"days": -2}, 422, "starts_at"),
        ({"starts_at": "2026-13-01T09:00:00"}, 422, "starts_at"),
        ({"external_id": "with space"}, 422, "external_id"),
        ({"external_id": 7}, 422, "external_id"),
        ({"product_id": 2**40}, 422, "product_id"),
    ],
)
def test_bad_items_are_refused_with_a_pointer(client, clock, world, item, status, field):
    raw = new_slot(
        "V-1",
        at(clock(), days=item.pop("days", 1)),
        minutes=item.pop("minutes", 15),
    )
    raw.update(item)
    response = push(client, world["a"], world["key_a"], [raw], "bad")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["errors"][0]["pointer"] == f"#/slots/0/{field}"


def test_batch_shapes_and_replays_that_are_refused(client, clock, world):
    a, key = world["a"], world["key_a"]
    item = new_slot("S-1", at(clock()))
    assert push(client, a, key, [item, dict(item)], "dup").status_code == 422
    assert push(client, a, key, [], "empty").status_code == 422
    assert push(client, a, key, [item] * 201, "big").status_code == 422
    assert push(client, a, key, [item], "k").status_code == 200
    changed = push(client, a, key, [{**item, "capacity": 8}], "k")
    assert changed.status_code == 422
    assert changed.get_json()["type"] == "urn:fairslot:problem:idempotency-key-reused"
    moved = push(client, a, key, [new_slot("S-1", at(clock(), hour=10))], "move")
    assert moved.status_code == 409
    no_key = client.post(
        f"{BASE}/{a}/slot-batches",
        json={"slots": [item]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert no_key.status_code == 400


def test_a_key_acts_only_for_its_own_clinics(app, client, clock, world):
    a, b, key_a, key_b = world["a"], world["b"], world["key_a"], world["key_b"]
    assert push(client, b, key_b, [new_slot("B-1", at(clock()))], "b").status_code == 200
    foreign = push(client, b, key_a, [new_slot("A-on-B", at(clock(), minute=30))], "x")
    unknown = push(client, 999_999, key_a, [new_slot("A-1", at(clock()))], "x")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.get_json()["detail"] == unknown.get_json()["detail"]  # B is not confirmed
    # Clinic B's slot named at clinic A is not found there, and B's slot is untouched.
    other = push(client, a, key_a, [{"external_id": "B-1", "closed": True}], "y")
    assert other.status_code == 404 and other.get_json()["errors"][0]["pointer"] == "#/slots/0"
    roster = client.get(
        f"{BASE}/{b}/roster?date=2026-03-03", headers={"Authorization": f"Bearer {key_a}"}
    )
    assert roster.status_code == 404
    # A state admin's grant: the key of A now acts for B too (a chain's clinics).
    with app.app_context():
        api_keys.set_scope(db.session, world["key_a_id"], {b})
        db.session.commit()
    assert push(client, b, key_a, [{"external_id": "B-1", "capacity": 7}], "z").status_code == 200
    with app.app_context():
        assert slot_by_external(db.session, b, "B-1").is_open is True
        assert db.session.scalar(select(func.count(Slot.id)).where(Slot.clinic_id == a)) == 0


def test_rotated_and_revoked_keys_are_refused_at_once(app, client, clock, world):
    a, old = world["a"], world["key_a"]
    item = [new_slot("R-1", at(clock()))]
    with app.app_context():
        new = api_keys.rotate_key(
            db.session, a, world["key_a_id"], secret_key=app.config["SECRET_KEY"], now=clock()
        ).secret
        db.session.commit()
    stale = push(client, a, old, item, "r")
    assert stale.status_code == 401 and stale.headers["WWW-Authenticate"].startswith("Bearer")
    assert push(client, a, new, item, "r").status_code == 200
    with app.app_context():
        api_keys.revoke_key(db.session, a, world["key_a_id"], now=clock())
        db.session.commit()
    revoked = push(client, a, new, item, "r")
    assert revoked.status_code == 401 and "revoked" in revoked.get_json()["detail"]
    with app.app_context():
        prefix = db.session.get(ClinicApiKey, world["key_a_id"]).prefix
        refused = [
            e
            for e in db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == "clinic_api.refused")
            )
            if e.detail.get("key") == prefix
        ]
        assert [e.detail["status"] for e in refused] == [401]


def test_a_key_revoked_after_the_check_refuses_the_whole_batch(
    app, client, clock, world, monkeypatch
):
    """Revoked between the central check and the batch's own transaction: nothing applied."""
    import booking.api.clinic_systems as views

    real = views.notice_policy

    def revoke_now():
        db.transaction(lambda s: api_keys.revoke_key(s, world["a"], world["key_a_id"], now=clock()))
        return real()

    monkeypatch.setattr(views, "notice_policy", revoke_now)
    response = push(client, world["a"], world["key_a"], [new_slot("M-1", at(clock()))], "m")
    assert response.status_code == 401
    with app.app_context():
        assert slot_by_external(db.session, world["a"], "M-1") is None


@pytest.mark.parametrize("how", ["cookie", "query", "basic", "form", "staff"])
def test_only_a_bearer_key_in_a_json_request_is_authority(app, clock, world, how):
    """A browser's ambient credentials (cookies, a staff session) never act for a clinic."""
    a, key = world["a"], world["key_a"]
    url = f"{BASE}/{a}/slot-batches"
    body = {"slots": [new_slot("C-1", at(clock()))]}
    client = app.test_client()
    headers = {"Idempotency-Key": "c"}
    if how == "staff":
        from booking.services import staff

        with app.app_context():
            staff.create_user(
                db.session,
                email="m@example.org",
                display_name="M",
                role="clinic_manager",
                password="manager password 1",
                now=clock(),
                clinic_ids=(a,),
            )
            db.session.commit()
        client = signed_in_client(app, "m@example.org", "manager password 1", clock())
        response = client.post(url, json=body, headers=headers)
    elif how == "cookie":
        client.set_cookie("Authorization", f"Bearer {key}", domain="fairslot.test")
        response = client.post(url, json=body, headers=headers)
    elif how == "query":
        response = client.post(f"{url}?access_token={key}", json=body, headers=headers)
    elif how == "basic":
        response = client.post(url, json=body, headers={**headers, "Authorization": f"Basic {key}"})
    else:  # what a cross-site form can send: no JSON, so refused before anything is read
        response = client.post(
            url, data={"slots": "x"}, headers={**headers, "Authorization": f"Bearer {key}"}
        )
    assert response.status_code == (415 if how == "form" else 401), response.get_json()
    with app.app_context():
        assert db.session.scalar(select(func.count(Slot.id))) == 0


def test_keys_are_compared_in_constant_time_on_one_path(app, client, clock, world, monkeypatch):
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(x, y):
        calls.append((x, y))
        return real(x, y)

    monkeypatch.setattr(api_keys.hmac, "compare_digest", spy)
    a, key = world["a"], world["key_a"]
    prefix = key[:14]
    wrong = prefix + "_" + "A" * 43
    unknown = "fsk_aaaaaaaaaa_" + "A" * 43
    for text in (wrong, unknown):
        calls.clear()
        assert push(client, a, text, [new_slot("T-1", at(clock()))], "t").status_code == 401
        assert len(calls) == 1 and len(calls[0][0]) == len(calls[0][1]) == 64
    with app.app_context():
        stored = db.session.get(ClinicApiKey, world["key_a_id"]).secret_hash
    assert key not in stored and stored == api_keys.key_hash(app.config["SECRET_KEY"], key)


def test_the_roster_reads_the_days_bookings(app, client, clock, world):
    a, key = world["a"], world["key_a"]
    start = at(clock())
    push(client, a, key, [new_slot("D-1", start)], "d")
    with app.app_context():
        book(db.session, slot_by_external(db.session, a, "D-1").id, clock())
    auth = {"Authorization": f"Bearer {key}"}
    response = client.get(f"{BASE}/{a}/roster?date={start.date().isoformat()}", headers=auth)
    assert response.status_code == 200
    (row,) = response.get_json()["reservations"]
    assert row["slot"]["external_id"] == "D-1" and row["status"] == "confirmed"
    assert client.get(f"{BASE}/{a}/roster", headers=auth).status_code == 422
    empty = client.get(f"{BASE}/{a}/roster?date={(start + timedelta(days=1)).date()}", headers=auth)
    assert empty.get_json()["reservations"] == []


def test_each_key_has_its_own_rate_limit(build, clock):
    app = build(QUEUE_MODE="off", CLINIC_API_RATE_LIMIT="2 per minute")
    world = two_clinics(app, clock())
    client = app.test_client()
    day = at(clock()).date().isoformat()
    for expected in (200, 200, 429):
        got = client.get(
            f"{BASE}/{world['a']}/roster?date={day}",
            headers={"Authorization": f"Bearer {world['key_a']}"},
        )
        assert got.status_code == expected
    # Same address, another clinic's key: its own count.
    other = client.get(
        f"{BASE}/{world['b']}/roster?date={day}",
        headers={"Authorization": f"Bearer {world['key_b']}"},
    )
    assert other.status_code == 200
    # Guessing keys is limited too: a refused key counts against the client's address.
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    guess = {"Authorization": "Bearer fsk_aaaaaaaaaa_" + "A" * 43}
    url = f"{BASE}/{world['a']}/roster?date={day}"
    assert [guesser.get(url, headers=guess).status_code for _ in range(3)] == [401, 401, 429]
