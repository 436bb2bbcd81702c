"""Generated data at a chosen scale, written straight into the bench database with SQL.

Clinics sit around Boston (the search ZIP is 02115) for the crowd, or across Massachusetts for
the scale runs; slots are every 10 minutes from 8 a.m. local time on each of the next days.
The crowd's clinics offer a one-dose product and two two-dose products; a two-dose product's
schedule runs past the booking horizon by its latest dose-2 interval, as a real clinic's must,
so dose 2 has its place at the same time of day on the interval day (the default).
"""

from __future__ import annotations

import math

from bench.stack import Stack

SEARCH_ZIP = "02115"
SERVICE = "covid19"
# The single-dose crowd books a one-dose product (a two-dose product books dose 2 too, so
# needs slots past the horizon); the catalogue rows come with the migrations.
PRODUCT = "janssen-covid19"
# 2021's two-dose COVID-19 vaccines (keys of the catalogue that migration 0007 inserts) and
# their latest dose-2 interval in days, which sets how far past the horizon their slots run.
COURSE_PRODUCTS = {"pfizer-covid19": 42, "moderna-covid19": 42}
# The share of the crowd's places (hence bookings: the crowd sells out) that are two-dose.
COURSE_SHARE = 0.75
# The app's default FAIRSLOT_BOOKING_DAYS: residents book dose 1 no further ahead than this.
HORIZON_DAYS = 14
# The slots residents can book dose 1 in (dose 2's days all lie past the horizon).
BOOKABLE = f"starts_at < now() + interval '{HORIZON_DAYS} days'"
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


def add_slots(
    stack: Stack,
    *,
    prefix: str,
    days: int,
    per_day: int,
    capacity: int,
    product: str = PRODUCT,
    first_day: int = 1,
) -> int:
    """Give each clinic with this key prefix ``per_day`` slots of ``product`` on each of
    ``days`` days from ``first_day`` (1: tomorrow); return how many slots they have (all)."""
    stack.psql(
        f"""
        INSERT INTO slot (clinic_id, service, product_id, starts_at, ends_at, capacity, held,
                          booked, is_open, created_at, phone_reserved)
        SELECT c.id, '{SERVICE}', (SELECT id FROM vaccine_product WHERE key = '{product}'),
               s.t, s.t + interval '10 minutes', {capacity}, 0, 0, true, now(), 0
        FROM clinic c
        CROSS JOIN LATERAL (
          SELECT ((date_trunc('day', now() AT TIME ZONE '{_TZ}') + d * interval '1 day'
                   + interval '8 hours' + k * interval '10 minutes') AT TIME ZONE '{_TZ}') AS t
          FROM generate_series({first_day}, {first_day + days - 1}) AS d,
               generate_series(0, {per_day} - 1) AS k
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


def course_days(days: int, latest_interval: int) -> range:
    """The days (1: tomorrow) a two-dose product needs slots on: dose 1's ``days``, then every
    day up to the horizon plus its latest interval, so any dose 1 finds its dose 2."""
    return range(1, max(days, HORIZON_DAYS) + latest_interval + 1)


def add_course_slots(
    stack: Stack, *, prefix: str, days: int, per_day: int, capacity: int, product: str
) -> int:
    """Slots of a two-dose ``product``: dose 1's ``days``, and the dose-2 days past the horizon.

    Returns the places on dose 1's days (what the crowd can book first). The days between
    dose 1's last day and the horizon stay empty: nobody may book them in the bench's crowd.
    """
    add_slots(stack, prefix=prefix, days=days, per_day=per_day, capacity=capacity, product=product)
    later = course_days(days, COURSE_PRODUCTS[product])
    first_later = HORIZON_DAYS + 1
    add_slots(
        stack,
        prefix=prefix,
        days=later.stop - first_later,
        per_day=per_day,
        capacity=capacity,
        product=product,
        first_day=first_later,
    )
    return int(
        stack.psql(
            "SELECT coalesce(sum(s.capacity), 0) FROM slot s JOIN clinic c ON c.id = s.clinic_id "
            f"JOIN vaccine_product p ON p.id = s.product_id WHERE c.key LIKE '{prefix}-%' "
            f"AND p.key = '{product}' AND s.{BOOKABLE}"
        )
    )


def product_split(per_day: int) -> dict[str, int]:
    """Slots per day and clinic of each product: a quarter one-dose (at least one), the rest
    shared by the two-dose products, as 2021's COVID-19 doses were mostly Pfizer and Moderna."""
    single = max(1, round(per_day * (1 - COURSE_SHARE)))
    courses = list(COURSE_PRODUCTS)
    split = {PRODUCT: single}
    for n, product in enumerate(courses):
        split[product] = (per_day - single) // len(courses) + (
            1 if n < (per_day - single) % len(courses) else 0
        )
    return {product: count for product, count in split.items() if count > 0}


def crowd_data(stack: Stack, *, clinics: int, per_day: int, capacity: int) -> int:
    """The crowd's inventory: a few clinics near the search ZIP, ``per_day`` dose-1 slots each
    on one day, split between the products (the two-dose ones with their dose-2 days).

    Returns the dose-1 places: what the crowd competes for.
    """
    add_clinics(stack, clinics, spread_deg=0.2, prefix="crowd")
    places = 0
    for product, count in product_split(per_day).items():
        if product in COURSE_PRODUCTS:
            places += add_course_slots(
                stack, prefix="crowd", days=1, per_day=count, capacity=capacity, product=product
            )
        else:
            add_slots(
                stack, prefix="crowd", days=1, per_day=count, capacity=capacity, product=product
            )
            places += clinics * count * capacity
    return places


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


# Correctness of courses, portable SQL (the tests run it on SQLite too): a confirmed dose 1 of
# a two-dose product without its confirmed dose 2, or a booked dose 2 whose dose 1 is not
# confirmed (a "dose 2 only" booking, dose 1 given elsewhere, has no dose 1 here).
HALF_COURSES_SQL = """
SELECT
  (SELECT count(*) FROM reservation r JOIN vaccine_product p ON p.id = r.product_id
   WHERE r.status = 'confirmed' AND r.dose_number = 1 AND p.doses = 2
     AND NOT EXISTS (SELECT 1 FROM reservation d WHERE d.course_id = r.id
                     AND d.status = 'confirmed' AND d.dose_number = 2))
  +
  (SELECT count(*) FROM reservation d
   WHERE d.status = 'confirmed' AND d.dose_number = 2 AND d.prior_dose_date IS NULL
     AND NOT EXISTS (SELECT 1 FROM reservation r WHERE r.id = d.course_id
                     AND r.status = 'confirmed' AND r.dose_number = 1))
"""
# Courses booked: confirmed dose 1 of a two-dose product (its dose 2 checked above).
COURSES_SQL = """
SELECT count(*) FROM reservation r JOIN vaccine_product p ON p.id = r.product_id
WHERE r.status = 'confirmed' AND r.dose_number = 1 AND p.doses = 2
"""
# One person, one confirmed booking per service and dose (a course is two: dose 1 and 2).
SAME_PERSON_TWICE_SQL = """
SELECT count(*) FROM (SELECT person_key FROM reservation WHERE status = 'confirmed'
GROUP BY person_key, service, dose_number HAVING count(*) > 1) AS d
"""
