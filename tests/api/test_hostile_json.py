"""Hostile JSON and control characters at the API's edge: a 4xx problem, never a 500.

The waiting room's ticket endpoint is anonymous, so it is the first place a hostile client
tries; its eligibility fields once answered 500 for an object or a list where a string belongs.
"""

from __future__ import annotations

from typing import Any

import pytest

PROBLEM = "application/problem+json"
TICKETS = "/api/v1/queue/tickets"
GOOD = {"service": "covid19", "date_of_birth": "1950-04-27", "resident": True}


def pointers(response: Any) -> set[str]:
    return {e["pointer"] for e in response.get_json().get("errors", [])}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service": {}}, "service"),
        ({"service": []}, "service"),
        ({"service": ["covid19"]}, "service"),
        ({"service": 1}, "service"),
        ({"service": None}, "service"),
        ({"date_of_birth": {}}, "date_of_birth"),
        ({"date_of_birth": "9999-12-31"}, "date_of_birth"),
        ({"resident": {}}, "resident"),
        ({"resident": 1}, "resident"),  # 1 == True in Python: not an answer all the same
        ({"resident": []}, "resident"),
        ({"has_condition": {}}, "has_condition"),
        ({"has_condition": []}, "has_condition"),
        ({"has_condition": 0}, "has_condition"),
        ({"has_condition": "maybe"}, "has_condition"),
    ],
    ids=repr,
)
def test_queue_ticket_fields_are_typed(client: Any, change: dict[str, Any], field: str) -> None:
    response = client.post(TICKETS, json={**GOOD, **change})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    assert f"#/{field}" in pointers(response)


def test_queue_ticket_answers_of_the_right_type_are_taken(client: Any) -> None:
    for extra in ({}, {"has_condition": True}, {"has_condition": False}, {"resident": "yes"}):
        assert client.post(TICKETS, json={**GOOD, **extra}).status_code == 201, extra


@pytest.mark.parametrize(
    "body",
    [
        {**GOOD, "service": "covid19\x00"},
        {**GOOD, "hcaptcha_response": "a\x01b"},
        {**GOOD, "extra\x00": 1},
        {**GOOD, "nested": [{"deep": ["\x1b[2J"]}]},
        {**GOOD, "surrogate": "\udcff"},
        {**GOOD, "c1": "a\x85b"},
    ],
    ids=["service-nul", "captcha-soh", "key-nul", "nested-escape", "surrogate", "c1-control"],
)
def test_control_characters_in_json_are_a_400_problem(client: Any, body: dict[str, Any]) -> None:
    response = client.post(TICKETS, json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    problem = response.get_json()
    assert problem["status"] == 400 and "control characters" in problem["detail"]
    assert "\x00" not in response.get_data(as_text=True)
    assert pointers(response)


def test_tab_and_newline_are_ordinary_text(client: Any) -> None:
    body = {**GOOD, "note": "one\ttwo\r\nthree"}
    assert client.post(TICKETS, json=body).status_code == 201


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("get", "/api/v1/clinics", {"query_string": {"zip": "02115\x00"}}),
        ("get", "/api/v1/reservations/ABCD%002345", {"query_string": {"date_of_birth": "x"}}),
        ("post", "/api/v1/holds", {"json": {"slot_id": 1}, "headers": {"Idempotency-Key": "\x00"}}),
        ("delete", "/api/v1/holds/abcd%00efghijk", {}),
    ],
    ids=["query", "path", "idempotency-key", "hold-id"],
)
def test_control_characters_anywhere_in_an_api_request(
    client: Any, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
