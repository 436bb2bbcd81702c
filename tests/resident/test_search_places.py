"""Searching by town as well as ZIP code, and what a search that finds nothing near says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.db import db
from booking.services import geo
from tests.support import make_clinic, make_slot


@pytest.fixture
def clinics(app, now):
    """A clinic in Worcester with a free time, and one in Boston (Fenway) with none."""
    with app.app_context():
        worcester = make_clinic(
            db.session, now, name="Worcester Senior Center", city="Worcester",
            postal_code="01608", latitude=42.2626, longitude=-71.8023,
        )  # fmt: skip
        make_slot(db.session, worcester, now + timedelta(days=2))
        make_clinic(db.session, now, name="Fenway Clinic")
        db.session.commit()
        return worcester.id


def page(response):
    return response.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["Worcester", "worcester ", "WORCESTER"])
def test_a_town_works_wherever_a_zip_does(client, clinics, typed):
    found = client.get("/search", query_string={"zip": typed, "radius_miles": "10"})
    assert found.status_code == 200
    text = page(found)
    assert "Appointments near Worcester" in text and "Worcester Senior Center" in text
    assert "Fenway Clinic" not in text  # 40 miles away
    api = client.get("/api/v1/clinics", query_string={"zip": typed, "radius_miles": "10"})
    assert [c["id"] for c in api.get_json()["clinics"]] == [clinics]


def test_a_boston_neighbourhood_is_a_place(client, clinics):
    text = page(client.get("/search", query_string={"zip": "Jamaica Plain"}))
    assert "Appointments near Jamaica Plain" in text and "Fenway Clinic" in text


def test_a_misspelt_town_gets_suggestions(client, clinics):
    refused = client.get("/search", query_string={"zip": "Worchester"})
    assert refused.status_code == 422
    assert "Did you mean Worcester" in page(refused)
    assert geo.suggest_towns("Sprngfield")[0] == "Springfield"


def test_a_zip_in_another_state_is_told_where_fairslot_books(client, clinics):
    refused = client.get("/search", query_string={"zip": "90210"})
    assert refused.status_code == 422
    text = page(refused)
    assert "FairSlot books vaccination appointments in Massachusetts" in text
    assert "ZIP code 90210 is in CA" in text and "0 clinics" not in text


def test_nothing_free_nearby_offers_wider_search_and_the_next_anywhere(client, clinics):
    text = page(client.get("/search", query_string={"zip": "02115", "radius_miles": "5"}))
    assert "Fenway Clinic" in text and "No appointments available" in text
    assert 'id="wider"' in text and "radius_miles=10" in text and "radius_miles=25" in text
    assert 'id="next-anywhere"' in text and "Worcester Senior Center" in text
    # Free places nearby: neither is offered.
    near = page(client.get("/search", query_string={"zip": "01608", "radius_miles": "5"}))
    assert 'id="wider"' not in near and 'id="next-anywhere"' not in near


def test_a_date_outside_the_booking_window_says_so(client, clinics, now):
    later = (now + timedelta(days=40)).date().isoformat()
    text = page(client.get("/search", query_string={"zip": "01608", "date": later}))
    assert 'id="outside-window"' in text and "Appointments can be booked from today until" in text
    assert "Show the next free days instead" in text and 'id="next-anywhere"' not in text
