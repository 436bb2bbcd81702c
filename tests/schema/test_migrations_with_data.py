"""Migrations run over a database that already holds bookings (as a live one does)."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from booking.migrate import downgrade, upgrade

ROWS = [
    "INSERT INTO clinic (id, key, name, kind, address_line, city, state, postal_code, latitude, "
    "longitude, timezone, services, active, created_at) VALUES (1, 'c', 'C', 'mass', '1 St', "
    "'Boston', 'MA', '02115', 42.3, -71.1, 'America/New_York', '[\"covid19\"]', 1, "
    "'2026-03-01 12:00:00')",
    "INSERT INTO slot (id, clinic_id, service, starts_at, ends_at, capacity, held, booked, "
    "is_open, created_at) VALUES (1, 1, 'covid19', '2026-03-05 14:00:00', "
    "'2026-03-05 14:15:00', 5, 0, 1, 1, '2026-03-01 12:00:00')",
    "INSERT INTO reservation (id, slot_id, clinic_id, service, status, channel, hold_token, "
    "hold_expires_at, confirmation_code, manage_token_hash, first_name, last_name, "
    "date_of_birth, person_key, phone, eligibility_attested, created_at, updated_at) VALUES "
    "(1, 1, 1, 'covid19', 'confirmed', 'online', 'tok', '2026-03-01 12:10:00', 'ABCDEFGH', "
    "'h', 'A', 'B', '1950-01-01', 'a|b|1950-01-01', '+16175550123', 1, "
    "'2026-03-01 12:00:00', '2026-03-01 12:00:00')",
]


def test_upgrade_and_downgrade_keep_existing_bookings(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement))
    upgrade(url)  # every later migration, some of which copy the slot and reservation tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT booked FROM slot WHERE id = 1")).scalar() == 1
        status = connection.execute(text("SELECT status FROM reservation WHERE id = 1")).scalar()
        assert status == "confirmed"
        assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    downgrade(url, "0001")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM reservation")).scalar() == 1
    engine.dispose()


def test_0006_gives_existing_bookings_the_language_of_their_messages(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    upgrade(url, "0005")
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement))
        connection.execute(
            text(
                "INSERT INTO reservation (id, slot_id, clinic_id, service, status, channel, "
                "hold_token, hold_expires_at, created_at, updated_at) VALUES (2, 1, 1, 'covid19', "
                "'held', 'online', 'tok2', '2026-03-01 12:10:00', '2026-03-01 12:00:00', "
                "'2026-03-01 12:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO outbox_message (id, reservation_id, kind, channel, recipient, locale, "
                "revision, dedupe_key, payload, status, attempts, send_after, next_attempt_at, "
                "created_at, updated_at) VALUES (1, 1, 'confirmation', 'sms', '+16175550123', "
                "'es', 0, '1:confirmation:sms', '{}', 'queued', 0, '2026-03-01 12:00:00', "
                "'2026-03-01 12:00:00', '2026-03-01 12:00:00', '2026-03-01 12:00:00')"
            )
        )
    upgrade(url, "0006")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, locale FROM reservation ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [(1, "es"), (2, "en")]
    downgrade(url, "0005")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM reservation")).scalar() == 2
    engine.dispose()


def test_0007_gives_existing_slots_their_services_default_product(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    upgrade(url, "0006")
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement))
        connection.execute(
            text(
                "INSERT INTO slot (id, clinic_id, service, starts_at, ends_at, capacity, held, "
                "booked, is_open, created_at) VALUES (2, 1, 'flu', '2026-03-05 14:00:00', "
                "'2026-03-05 14:15:00', 5, 0, 0, 1, '2026-03-01 12:00:00')"
            )
        )
    upgrade(url, "0007")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT s.id, p.key FROM slot s JOIN vaccine_product p ON p.id = s.product_id "
                "ORDER BY s.id"
            )
        ).all()
        assert [tuple(row) for row in rows] == [(1, "pfizer-covid19"), (2, "fluzone-flu")]
        assert connection.execute(text("SELECT booked FROM slot WHERE id = 1")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    downgrade(url, "0006")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM slot")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM reservation")).scalar() == 1
    engine.dispose()
