"""The open-data tests' world: two clinics, COVID-19 products, flu and RSV."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import VaccineProduct
from tests.support import make_clinic, make_slot


def product(session, key):
    """A catalogue product by its key."""
    return session.scalar(select(VaccineProduct).where(VaccineProduct.key == key))


@pytest.fixture
def world(app, clock):
    app.config["OPENDATA_REFRESH_SECONDS"] = 60
    with app.app_context():
        s = db.session
        boston = make_clinic(
            s,
            clock(),
            name="Boston Clinic",
            phone="(617) 555-0100",
            services=["covid19", "flu", "rsv"],
        )
        hartford = make_clinic(
            s,
            clock(),
            name="Hartford Clinic",
            state="CT",
            postal_code="06103",
            latitude=41.76,
            longitude=-72.67,
            services=["flu"],
        )
        at = {h: clock() + timedelta(hours=h) for h in range(1, 6)}
        slots = [make_slot(s, boston, at[h], capacity=3) for h in (1, 2, 3)]  # one-dose COVID-19
        slots.append(make_slot(s, hartford, at[2], capacity=2, service="flu"))
        moderna = product(s, "moderna-covid19")
        slots.append(make_slot(s, boston, at[1], capacity=2, product_id=moderna.id))
        slots.append(make_slot(s, boston, at[4], capacity=2, service="rsv"))
        janssen = product(s, "janssen-covid19")
        slots.append(make_slot(s, boston, at[5], capacity=1, product_id=janssen.id))
        s.commit()
        return {
            "slots": [x.id for x in slots],
            "boston": boston.id,
            "hartford": hartford.id,
            "flu": slots[3].id,
            "rsv": slots[5].id,
            "moderna": slots[4].id,
            "janssen": slots[6].id,
        }
