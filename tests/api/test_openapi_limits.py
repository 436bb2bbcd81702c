"""The OpenAPI document states the server's limits and its admission rule as they are."""

from __future__ import annotations

import re
from typing import Any

from booking.api.openapi import document


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
    assert body["has_condition"]["enum"] == [True, False, "yes", "no"]  # never an object
    assert body["resident"]["enum"] == [True, False, "yes", "no"]
    clinics = {p["name"]: p for p in operation(spec, "/api/v1/clinics", "get")["parameters"]}
    pattern = re.compile(clinics["zip"]["schema"]["pattern"])
    assert pattern.search("02115") and pattern.search("02115-1234")
    assert not pattern.search("2115") and not pattern.search("021150")
    assert pattern.search("Worcester") and pattern.search("Jamaica Plain")  # towns by name
    hold = {p["name"]: p for p in operation(spec, "/api/v1/holds", "post")["parameters"]}
    assert hold["Idempotency-Key"]["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}


def test_the_documented_zip_forms_are_accepted(client: Any) -> None:
    for zip_code in ("02115", "02115-1234"):
        assert client.get("/api/v1/clinics", query_string={"zip": zip_code}).status_code == 200
