"""The demo data: real Massachusetts sites, two weeks of slots, and a few bookings.

Running it again adds only what is missing (clinics by key, slots by clinic + start + product),
so ``make demo`` can be run every day and always shows two weeks ahead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from booking.demo.sites import SITES, DemoSite
from booking.models import Clinic, Reservation, Slot, VaccineProduct
from booking.services import holds, reservations
from booking.services.eligibility import EligibilityAnswers
from booking.services.errors import DomainError
from booking.services.notices import DEFAULT_NOTICES, SILENT
from booking.services.people import Person

TZ = "America/New_York"
DEMO_PERSON = Person(
    "Dana", "Demo", date(1950, 4, 27), phone="+16175550123", email=None, eligibility_attested=True
)


@dataclass(frozen=True)
class SeedReport:
    """What a seeding run added, and the demo booking to try looking up."""

    clinics_added: int
    slots_added: int
    demo_code: str | None
    demo_date_of_birth: date


def _upsert_clinic(session: Session, site: DemoSite, now: datetime) -> tuple[Clinic, bool]:
    clinic = session.scalars(select(Clinic).where(Clinic.key == site.key)).one_or_none()
    created = clinic is None
    if clinic is None:
        clinic = Clinic(key=site.key, created_at=now)
        session.add(clinic)
    clinic.name = site.name
    clinic.kind = site.kind
    clinic.address_line = site.line
    clinic.city = site.city
    clinic.state = site.state
    clinic.postal_code = site.postal_code
    clinic.latitude = site.latitude
    clinic.longitude = site.longitude
    clinic.phone = site.phone
    clinic.vtrcks_pin = site.vtrcks_pin
    clinic.timezone = TZ
    clinic.services = list(site.services)
    clinic.active = True
    session.flush()
    return clinic, created


def _site_slots(
    site: DemoSite,
    clinic_id: int,
    products: list[VaccineProduct],
    today: date,
    days: int,
    now: datetime,
) -> list[dict[str, Any]]:
    tz = ZoneInfo(TZ)
    rows = []
    # Dose 2 of a course is due past the booking horizon: a two-dose product's schedule runs on
    # until the default dose 2 of the horizon's last day (the clinic schedule page says so too).
    course_days = days + max((p.interval_days or 0) for p in products) if products else days
    for offset in range(course_days):
        day = today + timedelta(days=offset)
        if day.weekday() not in site.weekdays:
            continue
        start = datetime.combine(day, site.opens, tzinfo=tz)
        close = datetime.combine(day, site.closes, tzinfo=tz)
        step = timedelta(minutes=site.slot_minutes)
        while start + step <= close:
            for product in products:
                if offset >= days and product.doses == 1:
                    continue
                rows.append(
                    {
                        "clinic_id": clinic_id,
                        "service": product.service,
                        "product_id": product.id,
                        "starts_at": start,
                        "ends_at": start + step,
                        "capacity": site.capacity,
                        "held": 0,
                        "booked": 0,
                        "is_open": True,
                        "created_at": now,
                    }
                )
            start += step
    return rows


def seed_demo(session: Session, *, now: datetime, secret_key: str, days: int = 14) -> SeedReport:
    """Add missing demo clinics and slots, and the demo booking; never duplicates anything."""
    today = now.astimezone(ZoneInfo(TZ)).date()
    clinics_added = slots_added = 0
    # Products an admin has retired get no new demo slots.
    catalogue = {
        p.key: p
        for p in session.scalars(select(VaccineProduct).where(VaccineProduct.active.is_(True)))
    }
    for site in SITES:
        clinic, created = _upsert_clinic(session, site, now)
        clinics_added += created
        existing = {
            (starts_at, product_id)
            for starts_at, product_id in session.execute(
                select(Slot.starts_at, Slot.product_id).where(Slot.clinic_id == clinic.id)
            )
        }
        products = [catalogue[key] for key in site.products if key in catalogue]
        rows = [
            row
            for row in _site_slots(site, clinic.id, products, today, days, now)
            if (row["starts_at"].astimezone(ZoneInfo("UTC")), row["product_id"]) not in existing
        ]
        if rows:
            session.execute(insert(Slot), rows)
            slots_added += len(rows)
    session.flush()
    code = _demo_booking(session, now=now, secret_key=secret_key)
    return SeedReport(clinics_added, slots_added, code, DEMO_PERSON.date_of_birth)


def _demo_booking(session: Session, *, now: datetime, secret_key: str) -> str | None:
    """Book Dana Demo at Fenway Park (once), and fill some slots so the demo looks lived-in."""
    existing = session.scalars(
        select(Reservation).where(
            Reservation.person_key == DEMO_PERSON.key, Reservation.status == "confirmed"
        )
    ).first()
    if existing is not None:
        return existing.confirmation_code
    fenway = session.scalars(select(Clinic).where(Clinic.key == "fenway-park")).one_or_none()
    clinic = fenway or session.scalars(select(Clinic).order_by(Clinic.id)).first()
    if clinic is None:
        return None
    slots = session.scalars(
        select(Slot)
        .where(Slot.clinic_id == clinic.id, Slot.starts_at > now + timedelta(days=1))
        .order_by(Slot.starts_at)
        .limit(40)
    ).all()
    if not slots:
        return None
    rng = random.Random(2021)  # noqa: S311 - demo data, not security
    first_names = ["Maria", "John", "Linh", "Jean", "Wei", "Ana", "Patrick", "Fatima", "Luis"]
    last_names = ["Silva", "Nguyen", "Pierre", "Chen", "Murphy", "Santos", "Rodriguez", "Costa"]
    confirmation = None
    for index, slot in enumerate(slots):
        person = (
            DEMO_PERSON
            if index == 0
            else Person(
                rng.choice(first_names),
                rng.choice(last_names),
                date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28)),
                phone=f"+1617555{rng.randint(1000, 9999)}",
                eligibility_attested=True,
            )
        )
        try:
            hold = holds.place_hold(session, slot.id, now=now, hold_minutes=10)
            done = reservations.confirm_hold(
                session,
                hold.hold_token,
                person,
                answers=EligibilityAnswers(lives_or_works_in_state=True),
                admission_ticket=None,
                now=now,
                secret_key=secret_key,
                # Only the demo booking a visitor can look up sends (to the demo outbox).
                notices=DEFAULT_NOTICES if index == 0 else SILENT,
            )
        except DomainError:  # a random name may repeat, or be too young for RSV: skip that one
            continue
        if index == 0:
            confirmation = done.reservation.confirmation_code
    return confirmation
