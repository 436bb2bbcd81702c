"""Generated data at a chosen scale, written straight into the bench database with SQL.

Clinics sit around Boston (the search ZIP is 02115) for the crowd, or across Massachusetts for
the scale runs; slots are every 10 minutes from 8 a.m. local time on each of the next days.
"""

from __future__ import annotations

import math

from bench.stack import Stack

SEARCH_ZIP = "02115"
SERVICE = "covid19"
# The single-dose crowd books a one-dose product (a two-dose product books dose 2 too, so
# needs slots past the horizon); the catalogue rows come with the migrations.
PRODUCT = "janssen-covid19"
_TZ = "America/New_York"


def add_clinics(stack: Stack, count: int, *, spread_deg: float, prefix: str) -> None:
    """Insert ``count`` active clinics scattered within spread_deg of Boston."""
    stack.psql(
        f"""
        INSERT INTO clinic (key, name, kind, address_line, city, state, postal_code, latitude,
                            longitude, timezone, services, active, created_at)
        SELECT '{prefix}-' || i, 'Bench clinic {prefix} ' || i, 'pharmacy', i || ' Main St',
               'Boston', 'MA', '02115',
               42.3427 + (random() - 0.5) * {spread_deg},
               -71.0922 + (random() - 0.5) * {spread_deg},
               '{_TZ}', '["{SERVICE}"]'::json, true, now()
        FROM generate_series(1, {count}) AS i
        """
    )


def add_slots(stack: Stack, *, prefix: str, days: int, per_day: int, capacity: int) -> int:
    """Give each clinic with this key prefix ``per_day`` slots on each of the next ``days``."""
    stack.psql(
        f"""
        INSERT INTO slot (clinic_id, service, product_id, starts_at, ends_at, capacity, held,
                          booked, is_open, created_at, phone_reserved)
        SELECT c.id, '{SERVICE}', (SELECT id FROM vaccine_product WHERE key = '{PRODUCT}'),
               s.t, s.t + interval '10 minutes', {capacity}, 0, 0, true, now(), 0
        FROM clinic c
        CROSS JOIN LATERAL (
          SELECT ((date_trunc('day', now() AT TIME ZONE '{_TZ}') + d * interval '1 day'
                   + interval '8 hours' + k * interval '10 minutes') AT TIME ZONE '{_TZ}') AS t
          FROM generate_series(1, {days}) AS d, generate_series(0, {per_day} - 1) AS k
        ) AS s
        WHERE c.key LIKE '{prefix}-%'
        """
    )
    stack.psql("ANALYZE slot; ANALYZE clinic")
    return int(
        stack.psql(
            "SELECT count(*) FROM slot s JOIN clinic c ON c.id = s.clinic_id "
            f"WHERE c.key LIKE '{prefix}-%'"
        )
    )


def crowd_data(stack: Stack, *, clinics: int, per_day: int, capacity: int) -> int:
    """The crowd's inventory: a few clinics near the search ZIP, one day of slots each."""
    add_clinics(stack, clinics, spread_deg=0.2, prefix="crowd")
    slots = add_slots(stack, prefix="crowd", days=1, per_day=per_day, capacity=capacity)
    return slots * capacity


def reset_bookings(stack: Stack) -> None:
    """Forget every reservation and message, and free every slot (between scenarios)."""
    stack.psql(
        "DELETE FROM outbox_delivery; DELETE FROM outbox_message; DELETE FROM reservation; "
        "UPDATE slot SET held = 0, booked = 0 WHERE held <> 0 OR booked <> 0"
    )


def scale_layout(total_slots: int, clinics: int = 1000, days: int = 14) -> tuple[int, int]:
    """(days, slots per day) that give each of ``clinics`` clinics about total/clinics slots."""
    per_clinic = max(1, math.ceil(total_slots / clinics))
    days = min(days, per_clinic)
    return days, max(1, math.ceil(per_clinic / days))
