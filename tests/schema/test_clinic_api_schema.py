"""The clinic systems API's rules the database holds on its own (raw SQL, around the services)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from booking.services import api_keys
from tests.support import make_clinic, make_slot, refuse


def test_an_external_id_names_one_slot_per_clinic(session, now):
    a, b = make_clinic(session, now), make_clinic(session, now)
    first = make_slot(session, a, now + timedelta(days=1))
    second = make_slot(session, a, now + timedelta(days=1, hours=1))
    other = make_slot(session, b, now + timedelta(days=1))
    update = "UPDATE slot SET external_id = 'EHR-1' WHERE id = :id"
    session.execute(text(update), {"id": first.id})
    refuse(session, update, "uq_slot_clinic_id_external_id", "UNIQUE", id=second.id)
    # Control: another clinic may use the same id of its own.
    session.execute(text(update), {"id": other.id})


def test_a_batch_key_is_used_once_per_clinic_and_a_key_keeps_only_a_full_hash(session, now):
    clinic = make_clinic(session, now)
    made = api_keys.create_key(session, clinic.id, "k", secret_key="s", actor=None, now=now)
    second = api_keys.create_key(session, clinic.id, "k2", secret_key="s", actor=None, now=now)
    insert = (
        "INSERT INTO clinic_api_batch (clinic_id, idempotency_key, request_hash, key_id, "
        "created_at, result, items) VALUES (:c, 'same', :h, :k, :at, '{}', 1)"
    )
    values = {"c": clinic.id, "h": "0" * 64, "k": made.key.id, "at": now}
    session.execute(text(insert), values)
    refuse(session, insert, "uq_clinic_api_batch_clinic_id_idempotency_key", "UNIQUE", **values)
    refuse(
        session,
        "UPDATE clinic_api_key SET secret_hash = 'short' WHERE id = :id",
        "ck_clinic_api_key_secret_hash_length",
        id=made.key.id,
    )
    refuse(
        session,
        "UPDATE clinic_api_key SET prefix = :p WHERE id = :id",
        "uq_clinic_api_key_prefix",
        "UNIQUE",
        p=made.key.prefix,
        id=second.key.id,
    )
