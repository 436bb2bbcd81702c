"""Preregistration through the JSON API, including what a hostile client would send."""

from __future__ import annotations

from booking.db import db
from booking.models import Preregistration
from tests.preregistration.support import signup
from tests.support import client_for, csrf_from


def _body(n: int = 0, **overrides):
    body = signup(n, **overrides)
    body.update(travel_miles=10, consent=True, resident=True, product_id=None, short_notice=True)
    body.update(has_condition=False)
    body.update(overrides)
    return body


def test_sign_up_read_change_withdraw(client):
    created = client.post("/api/v1/preregistrations", json=_body())
    assert created.status_code == 201
    token = created.json["status_token"]
    assert created.json["preregistration"]["priority_group"] == "Everyone"
    found = client.get(f"/api/v1/preregistrations/{token}")
    assert found.json["status"] == "waiting" and found.json["invitations_in_group"] == 0
    details = {"zip": "01602", "travel_miles": 25, "language": "vi", "email": "r@example.org"}
    changed = client.put(f"/api/v1/preregistrations/{token}/details", json=details)
    assert changed.status_code == 200 and changed.json["language"] == "vi"
    first = client.post(f"/api/v1/preregistrations/{token}/withdraw")
    replay = client.post(f"/api/v1/preregistrations/{token}/withdraw")
    assert first.json == replay.json and replay.json["status"] == "withdrawn"
    closed = client.put(f"/api/v1/preregistrations/{token}/details", json=details)
    assert closed.status_code == 409


def test_a_second_preregistration_through_the_api_after_the_page(app, client):
    csrf = csrf_from(client.get("/preregister").get_data(as_text=True))
    assert client.post("/preregister", data={"csrf_token": csrf, **signup()}).status_code == 303
    again = app.test_client().post("/api/v1/preregistrations", json=_body(first_name="ROBINAA"))
    assert again.status_code == 409
    assert again.headers["Content-Type"].startswith("application/problem+json")


def test_hostile_bodies_are_4xx_and_write_nothing(app, client):
    hostile = [
        _body(first_name="Rob\x00in"),
        _body(travel_miles=True),
        _body(travel_miles=1000),
        _body(zip=["02115"]),
        _body(service={"a": 1}),
        _body(product_id=[1]),
        _body(language=None),
        _body(consent="maybe"),
        _body(accessibility=7),
        _body(date_of_birth="2999-01-01"),
        _body(phone="", email=""),
        _body(callback_phone="617-555-0199", phone="", email=""),  # only agents take one
        # JSON typed as the document types it (the pages' text values are the service's).
        _body(travel_miles="10"),
        _body(product_id="7"),
        _body(first_name=42),
        _body(resident="on"),
        _body(short_notice=1),
    ]
    for i, body in enumerate(hostile):
        answer = client_for(app, i).post("/api/v1/preregistrations", json=body)
        assert answer.status_code in (400, 422), body
    assert client.post("/api/v1/preregistrations", data="x").status_code == 415
    with app.app_context():
        assert db.session.query(Preregistration).count() == 0


def test_free_text_needs_may_span_lines(client):
    answer = client.post("/api/v1/preregistrations", json=_body(accessibility="Wheelchair\r\nASL"))
    assert answer.status_code == 201


def test_unknown_and_forged_tokens_are_not_found(app, client):
    token = client.post("/api/v1/preregistrations", json=_body()).json["status_token"]
    number, mac = token.split(".")
    # A character changed mid-signature: the last one of 32 bytes in base64 takes only 16
    # values, so replacing it with "A" left the token as it was once in 16 runs.
    swap = "B" if mac[10] != "B" else "C"
    forged_mac = f"{mac[:10]}{swap}{mac[11:]}"
    bad = (f"{int(number) + 1}.{mac}", f"{number}.{forged_mac}", "1", "99999999999.x")
    for i, forged in enumerate(bad):
        other = client_for(app, 100 + i)  # each guess from its own address: no rate limit met
        assert other.get(f"/api/v1/preregistrations/{forged}").status_code == 404
        assert other.post(f"/api/v1/preregistrations/{forged}/withdraw").status_code == 404
