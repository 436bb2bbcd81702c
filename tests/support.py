"""Helpers for tests: a clock, data factories and form helpers."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from itertools import count
from types import SimpleNamespace
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.db import db
from booking.models import Clinic, Reservation, Slot, VaccineProduct
from booking.services.eligibility import EligibilityAnswers
from booking.services.products import default_product, list_products
from booking.services.reservations import Person

_ids = count(1)
T = TypeVar("T")
# A resident of the state with no attested condition: what the default rules let book.
ANSWERS = EligibilityAnswers(lives_or_works_in_state=True)
# The date of birth a browser gives before choosing a time (booking_form's, too).
DOB = "04/27/1950"


class Clock:
    """A settable clock; the app calls it for "now"."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def make_clinic(session: Session, now: datetime, **overrides: Any) -> Clinic:
    """Add a clinic near Boston's Fenway (ZIP 02115) unless told otherwise."""
    n = next(_ids)
    values: dict[str, Any] = {
        "key": f"test-clinic-{n}",
        "name": f"Test Clinic {n}",
        "kind": "health_center",
        "address_line": f"{n} Test Street",
        "city": "Boston",
        "state": "MA",
        "postal_code": "02115",
        "latitude": 42.3427,
        "longitude": -71.0922,
        "phone": "(617) 555-0100",
        "timezone": "America/New_York",
        "services": ["covid19", "flu"],
        "active": True,
        "created_at": now,
    }
    values.update(overrides)
    clinic = Clinic(**values)
    session.add(clinic)
    session.flush()
    return clinic


def make_slot(
    session: Session,
    clinic: Clinic,
    starts_at: datetime,
    *,
    capacity: int = 5,
    service: str = "covid19",
    minutes: int = 15,
    product_id: int | None = None,
) -> Slot:
    """Add an open slot (for a one-dose product of the service unless told otherwise)."""
    slot = Slot(
        clinic_id=clinic.id,
        service=service,
        product_id=product_id or one_dose_product(session, service).id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        capacity=capacity,
        held=0,
        booked=0,
        is_open=True,
        created_at=starts_at - timedelta(days=30),
    )
    session.add(slot)
    session.flush()
    return slot


def one_dose_product(session: Session, service: str = "covid19") -> VaccineProduct:
    """A product of the service given as one dose: its default product when that is one."""
    default = default_product(session, service)
    if default.doses == 1:
        return default
    return next(p for p in list_products(session, services=[service]) if p.doses == 1)


def two_dose_product(session: Session, key: str = "pfizer-covid19") -> VaccineProduct:
    """A product given as a course of two doses (Pfizer-BioNTech: 21 to 42 days apart)."""
    return next(p for p in list_products(session) if p.key == key)


def person(n: int = 0, **overrides: Any) -> Person:
    """A valid resident; different ``n`` gives a different person."""
    values: dict[str, Any] = {
        "first_name": f"Alex{_letters(n)}",
        "last_name": "Resident",
        "date_of_birth": date(1960, 1, 1) + timedelta(days=n),
        "phone": "+16175550123",
        "email": None,
        "eligibility_attested": True,
    }
    values.update(overrides)
    return Person(**values)


def booking_form(csrf: str, **overrides: Any) -> dict[str, str]:
    """The resident's booking form as a browser posts it; ``None`` leaves a field out."""
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "first_name": "Maria",
        "last_name": "Lopez",
        "date_of_birth": "04/27/1950",
        "phone": "617-555-0123",
        "email": "maria@example.com",
        "resident": "yes",
        "eligibility_attested": "1",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def person_json(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A resident as the API's confirm body."""
    p = person(n)
    body: dict[str, Any] = {
        "first_name": p.first_name,
        "last_name": p.last_name,
        "date_of_birth": p.date_of_birth.isoformat(),
        "phone": "617-555-0123",
        "resident": True,
    }
    body.update(overrides)
    return body


def _letters(n: int) -> str:
    # Names must differ after normalization (digits would too, but letters read better).
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def csrf_from(html: str) -> str:
    """Pull the CSRF token out of a rendered form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


class RedisServer:
    """A private redis-server on a free loopback port, which a test may stop and restart."""

    def __init__(self, port: int | None = None) -> None:
        import socket

        if port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: Any = None

    @staticmethod
    def available() -> bool:
        import shutil

        return shutil.which("redis-server") is not None

    def start(self) -> RedisServer:
        import subprocess
        import time

        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def refuse(session: Any, sql: str, *names: str, **params: Any) -> None:
    """Run raw SQL that must be refused by a constraint named (or described) by ``names``."""
    # A savepoint, so that on PostgreSQL the test's transaction lives on after the refusal.
    with pytest.raises(IntegrityError) as refused, session.begin_nested():
        session.execute(text(sql), params)
    message = str(refused.value.orig)
    assert any(name in message for name in names), message


def run_together(count: int, task: Callable[[int], T]) -> list[T]:
    """Run ``task(0..count-1)`` on ``count`` threads released at once by a barrier."""
    barrier = threading.Barrier(count)

    def start(i: int) -> T:
        barrier.wait(timeout=60)
        return task(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(start, i) for i in range(count)]
        # .result() re-raises any exception a thread hit, failing the test with its traceback.
        return [future.result(timeout=300) for future in futures]


def client_for(app: Flask, i: int) -> Any:
    """A test client of its own, from its own address (each resident has their own limit)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.1.{i // 250}.{i % 250 + 1}"
    return client


# Two-dose courses: the demo's zone, Pfizer's words per dose, and the booked doses.
BOSTON = ZoneInfo("America/New_York")
PFIZER_1 = "COVID-19 vaccine (Pfizer-BioNTech), dose 1 of 2"
PFIZER_2 = "COVID-19 vaccine (Pfizer-BioNTech), dose 2 of 2"


def boston_wall(moment: datetime, days: int, hours: int = 0) -> datetime:
    """The same Boston wall-clock time ``days`` later (across daylight saving time)."""
    local = moment.astimezone(BOSTON).replace(tzinfo=None)
    return (local + timedelta(days=days, hours=hours)).replace(tzinfo=BOSTON)


def confirmed_doses(app: Flask) -> list[SimpleNamespace]:
    """The confirmed bookings, dose 1 first, as plain values."""
    with app.app_context():
        rows = db.session.scalars(
            select(Reservation)
            .where(Reservation.status == "confirmed")
            .order_by(Reservation.dose_number, Reservation.id)
        )
        fields = ("id", "slot_id", "dose_number", "course_id", "prior_dose_date")
        return [SimpleNamespace(**{f: getattr(r, f) for f in fields}) for r in rows]
