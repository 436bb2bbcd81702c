"""The OpenAPI document states the server's limits and its admission rule as they are."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from booking.api.openapi import document
from booking.api.openapi_limits import TEXT_PATTERN, date_pattern


def operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return spec["paths"][path][method]


def test_admission_is_needed_only_while_the_waiting_room_is_on(app: Any, client: Any) -> None:
    spec = document(app)
    for path in ("/api/v1/holds", "/api/v1/holds/{hold_id}/confirm"):
        assert operation(spec, path, "post")["security"] == [{"admission": []}, {}]
    assert (
        "only while the waiting room is on"
        in (spec["components"]["securitySchemes"]["admission"]["description"])
    )
    # And so it is: with the queue off (this app), a hold needs no Authorization.
    assert client.post("/api/v1/holds", json={"slot_id": 999_999}).status_code == 404


def test_every_operation_documents_the_400_of_control_characters(app: Any) -> None:
    spec = document(app)
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert "400" in op["responses"], (path, method)
    assert "400" in operation(spec, "/api/v1/queue/tickets", "post")["responses"]


def test_the_limits_the_server_enforces_are_in_the_schema(app: Any) -> None:
    spec = document(app)
    schemas = spec["components"]["schemas"]
    person = schemas["Person"]["properties"]
    assert person["first_name"]["minLength"] == 1 and person["last_name"]["maxLength"] == 100
    assert person["second_dose_slot_id"]["maximum"] == 2**31 - 1
    ticket = operation(spec, "/api/v1/queue/tickets", "post")
    body = ticket["requestBody"]["content"]["application/json"]["schema"]["properties"]
    # Never an object; null is a left-out answer (no condition), as the server reads it.
    assert body["has_condition"]["enum"] == [True, False, "yes", "no", None]
    assert body["resident"]["enum"] == [True, False, "yes", "no"]
    clinics = {p["name"]: p for p in operation(spec, "/api/v1/clinics", "get")["parameters"]}
    pattern = re.compile(clinics["zip"]["schema"]["pattern"])
    assert pattern.search("02115") and pattern.search("02115-1234")
    assert not pattern.search("2115") and not pattern.search("021150")
    assert pattern.search("Worcester") and pattern.search("Jamaica Plain")  # towns by name
    hold = {p["name"]: p for p in operation(spec, "/api/v1/holds", "post")["parameters"]}
    assert hold["Idempotency-Key"]["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": TEXT_PATTERN,  # no control character, as in every text
    }


def test_the_documented_zip_forms_are_accepted(client: Any) -> None:
    for zip_code in ("02115", "02115-1234"):
        assert client.get("/api/v1/clinics", query_string={"zip": zip_code}).status_code == 200


def test_date_patterns_match_exactly_the_dates_in_their_range() -> None:
    first, last = date(2025, 2, 27), date(2027, 3, 2)
    pattern = re.compile(date_pattern(first, last))
    day = first - timedelta(days=3)
    while day <= last + timedelta(days=3):
        assert bool(pattern.match(day.isoformat())) == (first <= day <= last), day
        day += timedelta(days=1)


def test_each_date_names_the_range_the_server_accepts(app: Any, client: Any) -> None:
    spec = document(app)  # the test clock: 2026-03-02
    clinics = {p["name"]: p for p in operation(spec, "/api/v1/clinics", "get")["parameters"]}
    search = re.compile(clinics["date"]["schema"]["pattern"])
    assert search.match("2027-03-03") and not search.match("2027-03-04")
    born = spec["components"]["schemas"]["Person"]["properties"]["date_of_birth"]["pattern"]
    assert re.match(born, "2026-03-02") and not re.match(born, "2026-03-03")
    assert not re.match(born, "1899-12-31")
    # And the server agrees at the edges.
    ok = client.get("/api/v1/clinics", query_string={"zip": "02115", "date": "2027-03-03"})
    late = client.get("/api/v1/clinics", query_string={"zip": "02115", "date": "2027-03-04"})
    assert (ok.status_code, late.status_code) == (200, 422)


def test_no_text_or_key_may_hold_a_control_character(app: Any) -> None:
    spec = document(app)
    person = spec["components"]["schemas"]["Person"]
    assert person["propertyNames"]["pattern"] == TEXT_PATTERN
    assert person["additionalProperties"] == {"$ref": "#/components/schemas/Extra"}
    text = re.compile(TEXT_PATTERN)
    assert text.match("Zoë 李 \t") and not text.match("a\x00") and not text.match("\x85")
    phone = re.compile(person["properties"]["phone"]["pattern"])
    assert phone.match("(617) 555-0123") and phone.match("+1 617.555.0123")
    assert not phone.match("617-155-0123") and not phone.match("617\x1c5550123")


def test_the_answers_come_together_and_companions_only_where_offered(app: Any) -> None:
    spec = document(app)
    ticket = operation(spec, "/api/v1/queue/tickets", "post")
    body = ticket["requestBody"]["content"]["application/json"]["schema"]
    assert body["dependentRequired"]["has_condition"] == ["service", "date_of_birth", "resident"]
    companion = spec["components"]["schemas"]["Person"]["properties"]["companion"]
    assert companion["enum"] == [False]  # FAIRSLOT_COMPANION_BOOKING is off in tests
    app.config["COMPANION_BOOKING"] = True
    assert "enum" not in document(app)["components"]["schemas"]["Person"]["properties"]["companion"]


def test_links_lead_from_a_hold_to_its_confirmation(app: Any) -> None:
    spec = document(app)
    links = operation(spec, "/api/v1/holds", "post")["responses"]["201"]["links"]
    assert links["confirm"]["parameters"] == {"hold_id": "$response.body#/hold_id"}


def test_an_integral_json_number_is_an_integer(client: Any) -> None:
    assert client.post("/api/v1/holds", json={"slot_id": 999_999.0}).status_code == 404
    refused = client.post("/api/v1/holds", json={"slot_id": 1.5})
    assert refused.status_code == 422


def test_a_ticket_refused_by_the_rules_names_the_rule(app: Any, client: Any) -> None:
    answers = {"service": "rsv", "date_of_birth": "2000-01-01", "resident": "yes"}
    refused = client.post("/api/v1/queue/tickets", json=answers)
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["type"] == "urn:fairslot:problem:not-eligible" and body["rule"] == "age"
