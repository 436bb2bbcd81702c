"""The API's clinic search and slot lists say a shared cache (nginx) may answer them again.

Only the successful, public answers: an error, a hold or anything personal is never marked
shareable, and the answer does not vary with the caller's cookie or session.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.db import db
from tests.support import make_clinic, make_slot


@pytest.fixture
def clinic_id(app, now):
    with app.app_context():
        clinic = make_clinic(db.session, now)
        make_slot(db.session, clinic, now + timedelta(days=1), capacity=2)
        db.session.commit()
        return clinic.id


def _urls(clinic_id: int, now) -> list[str]:
    day = (now + timedelta(days=1)).date().isoformat()
    return ["/api/v1/clinics?zip=02115", f"/api/v1/clinics/{clinic_id}/slots?date={day}"]


def test_search_and_slot_lists_are_shareable_for_a_moment(app, client, clinic_id, now):
    assert app.config["AVAILABILITY_MAX_AGE"] == 2
    client.get("/")  # a resident who browsed the pages first carries a session cookie
    for url in _urls(clinic_id, now):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == "public, max-age=2"
        # A shared cache must not store a per-person answer: none is set, none depends on one.
        assert "Set-Cookie" not in answer.headers
        assert "cookie" not in answer.headers.get("Vary", "").lower()
        # The same answer for an admitted resident with a token as for anyone.
        bearer = client.get(url, headers={"Authorization": "Bearer not-checked-here"})
        assert bearer.get_json() == answer.get_json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/clinics?zip=00000",  # unknown ZIP: 422
        "/api/v1/clinics?zip=02115&radius_miles=-1",
        "/api/v1/clinics/999999/slots?date=2026-03-03",  # no such clinic: 404
        "/api/v1/clinics/1/slots",  # no date: 422
        "/api/v1/clinics/1/slots?date=2026-03-03\x00",
    ],
)
def test_errors_are_never_marked_shareable(client, clinic_id, url):
    answer = client.get(url)
    assert 400 <= answer.status_code < 500
    assert "public" not in answer.headers.get("Cache-Control", "")


def test_other_api_answers_are_not_shareable(client, clinic_id):
    for url in ("/api/v1/holds/abc", "/api/v1/reservations/ABCDEFGH", "/api/v1/openapi.json"):
        assert "public" not in client.get(url).headers.get("Cache-Control", ""), url


def test_zero_turns_the_header_off(app, client, clinic_id, now):
    app.config["AVAILABILITY_MAX_AGE"] = 0
    for url in _urls(clinic_id, now):
        answer = client.get(url)
        assert answer.status_code == 200
        assert "Cache-Control" not in answer.headers
