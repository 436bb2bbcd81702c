"""Bad input on every API endpoint and HTML form: a 4xx with a clear message, never a 500."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from markupsafe import escape
from sqlalchemy import select

from booking.db import db
from booking.models import Reservation, Slot
from tests.support import DOB as BIRTH_DATE
from tests.support import csrf_from, make_clinic, make_slot, person_json

PROBLEM = "application/problem+json"
SQL = "' OR 1=1 --"
DROP = "1; DROP TABLE slot"
XSS = "<script>alert(1)</script>"
HUGE = "x" * 10_000
SLOT = object()  # replaced by the id of a real, open slot
DEEP = "[" * 50_000
NUL_EMAIL = "a\x00b@example.com"
SURROGATE_EMAIL = "\udcffab@example.com"


@pytest.fixture
def world(app, client, now):
    """An open slot with one API hold, another with a confirmed booking, and a snapshot."""
    with app.app_context():
        clinic = make_clinic(db.session, now)
        slot = make_slot(db.session, clinic, now + timedelta(days=1), capacity=3)
        other = make_slot(db.session, clinic, now + timedelta(days=2), capacity=3)
        db.session.commit()
        w = SimpleNamespace(clinic=clinic.id, slot=slot.id, other=other.id)
    w.hold = client.post("/api/v1/holds", json={"slot_id": w.slot}).get_json()["hold_id"]
    booked = client.post("/api/v1/holds", json={"slot_id": w.other}).get_json()["hold_id"]
    done = client.post(f"/api/v1/holds/{booked}/confirm", json=person_json(1)).get_json()
    w.code, w.token = done["confirmation_code"], done["manage_token"]
    w.before = snapshot(app)
    assert w.before["slots"] == {w.slot: (1, 0), w.other: (0, 1)}
    return w


def snapshot(app):
    """Every slot's counters and every reservation's status and slot."""
    with app.app_context():
        slots = {s.id: (s.held, s.booked) for s in db.session.scalars(select(Slot))}
        rows = db.session.execute(select(Reservation.id, Reservation.status, Reservation.slot_id))
        return {"slots": slots, "reservations": sorted(tuple(r) for r in rows)}


def fill(value, w):
    if value is SLOT:
        return w.slot
    if isinstance(value, dict):
        return {k: fill(v, w) for k, v in value.items()}
    return value


def confirm_body(**overrides):
    return {"json": person_json(2, **overrides)}


def q(**params):
    return {"query_string": params}


def cases(prefix, method, url, status, field, variants):
    """One case per variant: (id, method, url, request kwargs, status, field named in errors)."""
    return [(f"{prefix}-{k}", method, url, kw, status, field) for k, kw in variants.items()]


JSON = "application/json"
SLOTS = "/api/v1/clinics/{clinic}/slots"
SLOTS_OF = "/api/v1/clinics/%s/slots?date=2026-03-03"
CONFIRM = "/api/v1/holds/{hold}/confirm"
LOOKUP = "/api/v1/reservations/{code}"
CANCEL = "/api/v1/reservations/{code}/cancel"
DOB = "date_of_birth"
BAD_FIELDS = {
    "first_name": {
        "number": 123,
        "null": None,
        "list": ["Al"],
        "object": {"a": 1},
        "bool": True,
        "huge": HUGE,
        "blank": "  ",
    },
    "last_name": {"number": 7, "huge": HUGE, "digits": "1"},
    DOB: {
        "feb-30": "2021-02-30",
        "number": 19600101,
        "null": None,
        "future": "2999-01-01",
        "sql": SQL,
        "huge": HUGE,
        "list": [],
    },
    "phone": {"number": 6175550123, "sql": DROP, "xss": XSS, "huge": HUGE, "short": "555-0123"},
    "email": {
        "xss": XSS,
        "huge": HUGE + "@example.com",
        "number": 42,
        "list": ["a@example.com"],
        "sql": SQL,
    },
}
# Refused before any view reads them (booking/web/input_guard.py): a 400 naming the field.
CONTROL_FIELDS = {
    "first_name": {"nul": "A\x00"},
    "email": {"nul": NUL_EMAIL, "surrogate": SURROGATE_EMAIL},  # PostgreSQL: NUL was a 500
}
API_CASES = [
    *cases("clinics", "get", "/api/v1/clinics", 422, "zip", {
        "no-zip": {}, "zip-sql": q(zip=SQL), "zip-xss": q(zip=XSS), "zip-huge": q(zip=HUGE),
        "zip-unknown": q(zip="00000")}),
    *cases("clinics", "get", "/api/v1/clinics", 422, "radius_miles", {
        "radius-word": q(zip="02115", radius_miles="ten"),
        "radius-negative": q(zip="02115", radius_miles="-5"),
        "radius-huge": q(zip="02115", radius_miles="9" * 400)}),
    *cases("clinics", "get", "/api/v1/clinics", 422, "date", {
        "feb-30": q(zip="02115", date="2021-02-30"), "date-sql": q(zip="02115", date=DROP),
        "year-9999": q(zip="02115", date="9999-12-31")}),
    *cases("clinics", "get", "/api/v1/clinics", 422, "service", {
        "service-xss": q(zip="02115", service=XSS)}),
    *[(f"slots-{k}", "get", SLOTS_OF % v, {}, 404, None) for k, v in {
        "unknown-clinic": "999999", "huge-id": "9" * 30, "negative-id": "-1",
        "superscript-id": "%C2%B2", "sql-id": quote(DROP)}.items()],
    *cases("slots", "get", SLOTS, 422, "date", {
        "no-date": {}, "feb-30": q(date="2021-02-30"), "year-9999": q(date="9999-12-31"),
        "date-huge": q(date=HUGE)}),
    *cases("slots", "get", SLOTS, 422, "service", {
        "service-sql": q(date="2026-03-03", service=SQL)}),
    *cases("slots", "get", SLOTS, 400, "service", {
        "service-nul": q(date="2026-03-03", service="\x00")}),
    *cases("hold", "post", "/api/v1/holds", 415, None, {
        "no-body": {}, "form-body": {"data": {"slot_id": "1"}},
        "text-body": {"data": "slot_id=1", "content_type": "text/plain"}}),
    *cases("hold", "post", "/api/v1/holds", 400, None, {
        "broken-json": {"data": '{"slot_id": ', "content_type": JSON},
        "deep-json": {"data": DEEP, "content_type": JSON},
        "json-null": {"data": "null", "content_type": JSON},
        "json-list": {"json": [1]}, "json-string": {"json": "1"},
        "empty-key": {"json": {"slot_id": SLOT}, "headers": {"Idempotency-Key": ""}},
        "huge-key": {"json": {"slot_id": SLOT}, "headers": {"Idempotency-Key": "k" * 256}}}),
    *cases("hold", "post", "/api/v1/holds", 422, "slot_id", {
        "no-slot": {"json": {}}, **{f"slot-{k}": {"json": {"slot_id": v}} for k, v in {
            "string": "1", "null": None, "list": [1], "object": {"id": 1}, "float": 1.5,
            "bool": True, "negative": -1, "zero": 0, "huge": 10**30, "sql": SQL, "drop": DROP,
        }.items()}}),
    ("hold-unknown-slot", "post", "/api/v1/holds", {"json": {"slot_id": 999_999}}, 404, None),
    *[(f"release-{k}", "delete", f"/api/v1/holds/{v}", {}, 404, None) for k, v in {
        "unknown": "no-such-hold-id", "huge": HUGE, "sql": quote(SQL),
        "xss": quote(XSS, safe="")}.items()],
    ("release-nul", "delete", "/api/v1/holds/abcd%00efghijk", {}, 400, "hold_id"),
    ("confirm-unknown-hold", "post", "/api/v1/holds/no-such-hold-id/confirm", confirm_body(),
     404, None),
    ("confirm-text-body", "post", CONFIRM, {"data": "first_name=A"}, 415, None),
    ("confirm-json-list", "post", CONFIRM, {"json": []}, 400, None),
    ("confirm-empty", "post", CONFIRM, {"json": {}}, 422, "first_name"),
    *[(f"confirm-{field}-{k}", "post", CONFIRM, confirm_body(**{field: v}), 422, field)
      for field, variants in BAD_FIELDS.items() for k, v in variants.items()],
    *[(f"confirm-{field}-{k}", "post", CONFIRM, confirm_body(**{field: v}), 400, field)
      for field, variants in CONTROL_FIELDS.items() for k, v in variants.items()],
    *cases("lookup", "get", LOOKUP, 422, DOB, {
        "no-dob": {}, "feb-30": q(date_of_birth="2021-02-30"), "dob-sql": q(date_of_birth=SQL),
        "dob-huge": q(date_of_birth=HUGE)}),
    *[(f"lookup-code-{k}", "get", f"/api/v1/reservations/{v}", q(date_of_birth="1960-01-02"),
       404, None) for k, v in {"sql": quote(SQL), "xss": quote(XSS, safe=""), "huge": HUGE,
                               "unknown": "ABCD2345"}.items()],
    ("cancel-text-body", "post", CANCEL, {"data": "dob=1"}, 415, None),
    ("cancel-json-list", "post", CANCEL, {"json": ["1960"]}, 400, None),
    *cases("cancel", "post", CANCEL, 422, DOB, {
        "no-dob": {"json": {}}, **{f"dob-{k}": {"json": {DOB: v}} for k, v in {
            "number": 1960, "null": None, "list": [], "object": {}, "feb-30": "2021-02-30",
            "drop": DROP}.items()}}),
    ("cancel-wrong-dob", "post", CANCEL, {"json": {DOB: "1970-01-01"}}, 404, None),
    ("cancel-code-sql", "post", f"/api/v1/reservations/{quote(SQL)}/cancel",
     {"json": {DOB: "1960-01-02"}}, 404, None),
    ("unknown-route", "get", "/api/v1/clinics/1/slots/2", {}, 404, None),
    ("wrong-method", "put", "/api/v1/holds", {"json": {}}, 405, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "method", "url", "kwargs", "status", "field"),
    API_CASES,
    ids=[c[0] for c in API_CASES],
)
def test_api_refuses_bad_input_with_a_problem(
    app, client, world, case, method, url, kwargs, status, field
):
    kwargs = {k: fill(v, world) for k, v in kwargs.items()}
    response = getattr(client, method)(url.format(**vars(world)), **kwargs)
    assert 400 <= response.status_code < 500
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.content_type == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if field:
        errors = {e["pointer"]: e["detail"] for e in body["errors"]}
        assert errors.get(f"#/{field}")
    assert snapshot(app) == world.before


# --- HTML forms -----------------------------------------------------------------------------


def assert_refused_page(page, status, response, field=None, message=None):
    assert response.status_code == status, page[:2000]
    assert response.content_type.startswith("text/html")
    assert XSS not in page
    if message:
        assert str(escape(message)) in page
    if field:
        assert f'id="{field}-error"' in page
        tag = page[page.index(f'id="{field}"') :].split(">", 1)[0]
        assert 'aria-invalid="true"' in tag
        assert f"{field}-error" in tag.split("aria-describedby=", 1)[1]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({}, "zip", "Enter a ZIP code or a town."),
        ({"zip": XSS}, "zip", "We do not know a place called"),
        ({"zip": SQL}, "zip", "We do not know a place called"),
        ({"zip": HUGE}, "zip", "We do not know a place called"),
        ({"zip": "0211"}, "zip", "Enter a 5-digit ZIP code, or a town."),
        ({"zip": "90210"}, "zip", "ZIP code 90210 is in CA"),
        ({"zip": "Worchester"}, "zip", "Did you mean Worcester"),
        ({"zip": "00000"}, "zip", "We do not know that ZIP code. Check it and try again."),
        ({"zip": "02115", "date": "2021-02-30"}, "date", "That date does not exist."),
        ({"zip": "02115", "date": XSS}, "date", "Enter the date like 1950-04-27 or 04/27/1950."),
        ({"zip": "02115", "date": "9999-12-31"}, "date", "Check the year."),
        ({"zip": "02115", "date": "2027-12-31"}, "date", "Choose a date within a year."),
        ({"zip": "02115", "radius_miles": XSS}, None, "Enter a whole number from 1 to 100."),
        ({"zip": "02115", "service": DROP}, None, "Choose one of: covid19, flu, rsv."),
    ],
    ids=lambda v: str(v)[:24],
)
def test_search_form_shows_what_to_fix(client, query, field, message):
    response = client.get("/search", query_string=query)
    page = response.get_data(as_text=True)
    assert_refused_page(page, 422, response, field, message)
    for name in ("zip", "date"):  # typed text comes back in its input, escaped
        if query.get(name) and query[name] != HUGE:
            assert f'value="{escape(query[name])}"' in page


def test_search_ignores_parameters_it_does_not_know(client, world):
    query = "zip=02115&endpoint=x&_external=1&_scheme=javascript&_anchor=x&_method=GET"
    response = client.get(f"/search?{query}")
    assert response.status_code == 200
    assert '<a href="/?zip=02115">' in response.get_data(as_text=True)


@pytest.fixture
def browser_hold(client, world):
    """The details form of a hold placed by this browser, and its CSRF token."""
    token = csrf_from(client.get(f"/clinics/{world.clinic}").get_data(as_text=True))
    placed = client.post(
        f"/slots/{world.slot}/hold", data={"csrf_token": token, "date_of_birth": BIRTH_DATE}
    )
    assert placed.status_code == 303
    hold_id = placed.headers["Location"].rsplit("/", 1)[1]
    return SimpleNamespace(id=hold_id, csrf=token)


def details(**overrides):
    values = {"first_name": "Maria", "last_name": "Lopez", "date_of_birth": "04/27/1950",
              "phone": "617-555-0123", "email": "", "eligibility_attested": "1"}  # fmt: skip
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({k: "" for k in details()}, "first_name", "Enter your first name."),
        ({"first_name": HUGE}, "first_name", "Your first name must be 100 characters or fewer."),
        ({"last_name": DROP, "date_of_birth": "1999-02-29"}, "date_of_birth",
         "That date does not exist."),  # SQL-looking text is just an odd name, kept as text
        ({"first_name": XSS, "date_of_birth": "2021-02-30"}, "date_of_birth",
         "That date does not exist."),
        ({"date_of_birth": SQL}, "date_of_birth", "Enter the date like 1950-04-27 or 04/27/1950."),
        ({"date_of_birth": "12/31/2999"}, "date_of_birth", "Must be in the past."),
        ({"phone": DROP}, "phone", "Enter a 10-digit US phone number, like 617-555-0123."),
        ({"phone": "", "email": ""}, "phone", "Enter a phone number or an email address"),
        ({"email": XSS}, "email", "Enter an email address like name@example.com."),
        ({"email": HUGE + "@example.com"}, "email", "Enter an email address like"),
        ({"eligibility_attested": None}, "eligibility_attested",
         "Confirm that you are eligible to book."),
    ],
    ids=lambda v: str(v)[:24],
)  # fmt: skip
def test_details_form_re_renders_with_messages_and_books_nothing(
    app, client, world, browser_hold, overrides, field, message
):
    before = snapshot(app)
    form = {"csrf_token": browser_hold.csrf, **details(**overrides)}
    response = client.post(f"/book/{browser_hold.id}", data=form)
    page = response.get_data(as_text=True)
    assert_refused_page(page, 422, response, field, message)
    for name, value in overrides.items():
        if value and value != HUGE and name != "eligibility_attested":
            assert f'value="{escape(value)}"' in page  # what was typed comes back, escaped
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "overrides",
    [{"first_name": "A\x00B"}, {"email": NUL_EMAIL}, {"phone": "617\x1b555"}, {"x\x00": "1"}],
    ids=["name", "email", "phone", "field-name"],
)
def test_control_characters_in_a_form_are_a_400_and_book_nothing(
    app, client, world, browser_hold, overrides
):
    before = snapshot(app)
    form = {"csrf_token": browser_hold.csrf, **details(**overrides)}
    response = client.post(f"/book/{browser_hold.id}", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and response.content_type.startswith("text/html")
    assert "characters we cannot accept" in page and "\x00" not in page
    assert snapshot(app) == before
    # The hold is untouched: the same form without the bad character books.
    good = {"csrf_token": browser_hold.csrf, "resident": "yes", **details()}
    done = client.post(f"/book/{browser_hold.id}", data=good)
    assert done.status_code == 303


@pytest.mark.parametrize(
    ("code", "dob", "field", "message"),
    [
        ("", "", "code", "Enter the confirmation code."),
        ("ABCD-2345", "", "dob", "Enter the date of birth."),
        ("ABCD-2345", "2021-02-30", "dob", "That date does not exist."),
        ("ABCD-2345", DROP, "dob", "Enter the date like 1950-04-27 or 04/27/1950."),
        (SQL, "1960-01-02", None, "We could not find a reservation with that code"),
        (XSS, "1960-01-02", None, "We could not find a reservation with that code"),
        (HUGE, "1960-01-02", None, "We could not find a reservation with that code"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_lookup_form_shows_what_to_fix(app, client, world, code, dob, field, message):
    token = csrf_from(client.get("/lookup").get_data(as_text=True))
    response = client.post("/lookup", data={"csrf_token": token, "code": code, "dob": dob})
    page = response.get_data(as_text=True)
    assert_refused_page(page, 422, response, field, message)
    if code and code != HUGE:
        assert f'value="{escape(code)}"' in page
    assert snapshot(app) == world.before


GONE = "That time does not exist. Please choose another."


@pytest.mark.parametrize(
    ("slot_id", "message"),
    [
        *[(v, GONE) for v in (None, "abc", "-1", "9" * 30, "2147483648", SQL, XSS, "999999")],
        ("{other}", "That is the time you already have."),
    ],
    ids=lambda v: str(v)[:24],
)
def test_reschedule_form_refuses_bad_slot_ids(app, client, world, slot_id, message):
    assert client.get(f"/manage/{world.token}").status_code == 303
    token = csrf_from(client.get("/manage/reschedule").get_data(as_text=True))
    form = {"csrf_token": token}
    if slot_id is not None:
        form["slot_id"] = slot_id.format(other=world.other)
    response = client.post("/manage/reschedule", data=form)
    page = response.get_data(as_text=True)
    assert_refused_page(page, 409, response, None, message)
    assert snapshot(app) == world.before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        *[("post", f"/slots/{v}/hold") for v in ("999999", "9" * 30, "-1", quote(DROP))],
        ("post", "/book/no-such-hold/release"), ("post", f"/book/{HUGE}"),
        ("get", f"/book/{quote(XSS, safe='')}"),
        *[("get", f"/clinics/{v}") for v in ("999999", "9" * 30, quote(SQL))],
        ("get", "/clinics/{clinic}?date=2021-02-30"),
        ("get", f"/manage/{quote(XSS, safe='')}"), ("get", f"/manage/{HUGE}"),
    ],
    ids=lambda v: str(v)[:30],
)  # fmt: skip
def test_unknown_ids_are_404_pages(app, client, world, method, url):
    token = csrf_from(client.get("/lookup").get_data(as_text=True))
    kwargs = {"data": {"csrf_token": token}} if method == "post" else {}
    response = getattr(client, method)(url.format(clinic=world.clinic), **kwargs)
    page = response.get_data(as_text=True)
    assert_refused_page(page, 404, response)
    assert "We could not find that page." in page or "That link is not valid." in page
    assert snapshot(app) == world.before


# --- 100 KB bodies --------------------------------------------------------------------------


def test_the_body_limit_is_64_kb_by_default(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    "url",
    ["/api/v1/holds", "/api/v1/holds/{hold}/confirm", "/api/v1/reservations/{code}/cancel",
     "/lookup", "/book/{hold}", "/slots/{slot}/hold"],
)  # fmt: skip
def test_100_kb_bodies_are_413(app, client, world, url):
    padding = "x" * 100_000
    if url.startswith("/api/"):
        response = client.post(url.format(**vars(world)), json={"slot_id": 1, "pad": padding})
        assert response.status_code == 413
        assert response.content_type == PROBLEM
        assert response.get_json()["detail"]
    else:
        response = client.post(url.format(**vars(world)), data={"code": padding})
        assert response.status_code == 413
        assert "Too much data" in response.get_data(as_text=True)
    assert snapshot(app) == world.before
