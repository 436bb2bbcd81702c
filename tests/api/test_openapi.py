"""The OpenAPI document against the code: drift fails the check; enums and gates are read."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from booking.api.openapi import document
from booking.db import db
from booking.models import LOCALES, Channel
from booking.services.inventory import SERVICES
from tests.openapi_check import CheckedClient, check_response
from tests.support import make_clinic, make_slot

SEARCH = "/api/v1/clinics?zip=02115"
# A well-formed value for each path parameter, so a request gets as far as the gate.
PATH_VALUES = {
    "clinic_id": "1",
    "slot_id": "1",
    "hold_id": "A" * 32,
    "code": "ABCD2345",
    "ticket": "t" * 22,
    "token": "1.x",
}


@pytest.fixture
def searched(app, client, now):
    """A real search answer with one clinic in it, before any tampering."""
    with app.app_context():
        clinic = make_clinic(db.session, now)
        make_slot(db.session, clinic, now + timedelta(days=1))
        db.session.commit()
    response = client.get(SEARCH)
    assert response.status_code == 200
    assert len(response.get_json()["clinics"]) == 1
    return response


def _rejected(app, response, *words):
    with pytest.raises(AssertionError) as failed:
        check_response(app, response)
    for word in words:
        assert word in str(failed.value)


def test_every_test_client_checks_api_responses(app):
    assert isinstance(app.test_client(), CheckedClient)


def test_a_body_that_drifts_from_the_document_is_rejected(app, searched):
    good = searched.get_json()
    check_response(app, searched)

    searched.set_data(json.dumps({"clinics": [{**good["clinics"][0], "id": "one"}]}))
    _rejected(app, searched, "GET /api/v1/clinics -> 200", "'one' is not of type 'integer'")

    missing = {k: v for k, v in good["clinics"][0].items() if k != "available_slots"}
    searched.set_data(json.dumps({"clinics": [missing]}))
    _rejected(app, searched, "'available_slots' is a required property")

    searched.set_data(json.dumps({**good, "total": 1}))
    _rejected(app, searched, "total")


def test_an_undocumented_status_or_media_type_is_rejected(app, searched):
    searched.status_code = 418
    _rejected(app, searched, "-> 418")
    searched.status_code = 200
    searched.mimetype = "text/html"
    _rejected(app, searched, "text/html")


def test_a_problem_that_drifts_from_the_document_is_rejected(app, client):
    refused = client.get("/api/v1/clinics?zip=00000")
    assert refused.status_code == 422
    refused.set_data(json.dumps({**refused.get_json(), "status": "422"}))
    _rejected(app, refused, "'422' is not of type 'integer'")
    unknown = client.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    unknown.set_data(json.dumps({**unknown.get_json(), "trace": "..."}))
    _rejected(app, unknown, "'trace' is not documented")


def test_the_enums_are_the_codes(app):
    spec = document(app)
    slots = spec["paths"]["/api/v1/clinics/{clinic_id}/slots"]["get"]
    (service,) = (p["schema"] for p in slots["parameters"] if p["name"] == "service")
    assert service["enum"] == list(SERVICES)
    found = spec["components"]["schemas"]["Reservation"]["properties"]["reservation"]
    assert found["properties"]["channel"]["enum"] == [c.value for c in Channel]
    language = spec["components"]["headers"]["Language"]["schema"]["enum"]
    assert language == [code.replace("_", "-") for code in LOCALES]


def test_the_rate_limited_operations_are_read_from_the_limits(app):
    spec = document(app)
    limited = {
        (path, method)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "429" in operation["responses"]
    }
    assert limited == {
        ("/api/v1/holds", "post"),
        ("/api/v1/reservations/{code}", "get"),
        ("/api/v1/reservations/{code}/cancel", "post"),
        ("/api/v1/reservations/{code}/reschedule", "post"),
        ("/api/v1/queue/tickets", "post"),
        ("/api/v1/queue/tickets/{ticket}", "get"),
        ("/api/v1/availability", "get"),
        ("/api/v1/clinic-systems/clinics/{clinic_id}/slot-batches", "post"),
        ("/api/v1/clinic-systems/clinics/{clinic_id}/roster", "get"),
        ("/api/v1/preregistrations", "post"),
        ("/api/v1/preregistrations/{token}", "get"),
    }


def test_the_gated_operations_are_the_ones_the_gate_refuses(build):
    app = build()  # the shared fixture turns the waiting room on
    client = app.test_client()
    spec = document(app)
    gated = set()
    for path, item in spec["paths"].items():
        if path.startswith("/api/v1/clinic-systems/"):
            continue  # a clinic's API key, not an admission (tests/api/test_clinic_systems.py)
        url = re.sub(r"{([^{}]+)}", lambda m: PATH_VALUES[m.group(1)], path)
        for method, operation in item.items():
            body = {} if method == "post" else None
            response = client.open(url, method=method.upper(), json=body)
            if response.status_code == 401:
                gated.add((path, method))
                assert "security" in operation, (path, method)
            elif "security" in operation:
                # Documented as needing an admission only for some requests: a move to another
                # clinic (this bare request moves nothing).
                assert (path, method) == ("/api/v1/reservations/{code}/reschedule", "post")
    assert gated == {("/api/v1/holds", "post"), ("/api/v1/holds/{hold_id}/confirm", "post")}
