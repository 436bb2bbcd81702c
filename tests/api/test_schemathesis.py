"""Schemathesis over the app's own OpenAPI document, in-process (WSGI), waiting room off and on.

Every operation through schemathesis's coverage phase (each limit's edges, each type mutation,
each missing field, valid and invalid) and its fuzzing phase (generated valid and invalid
requests), with every check the installed version has (no server error; status codes, bodies,
headers and content types as documented; invalid data refused, valid data accepted; ...);
then its stateful phase, which follows the document's links (search, slots, hold, confirm,
look up, move, cancel; ticket, poll). Fuzzing is derandomized (the same examples every run),
bounded and without a deadline; the coverage phase is deterministic.

Valid data is accepted, with one narrow exception, named here: a 422 whose every error is a
rule the document cannot state as a JSON Schema, because it depends on what the server holds
or on Unicode character classes ECMA-262 patterns cannot name (``DATA_RULES``), or a refusal
by the eligibility rules state admins edit. Anything else valid but refused fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import HypothesisException
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.modes import GenerationMode
from schemathesis.generation.overrides import Override
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from booking.api.openapi import document
from booking.db import db
from tests.conftest import rolled_back_app
from tests.support import Clock, make_clinic, make_slot, two_dose_product

EXAMPLES = 10  # fuzzed per operation, of valid data and of invalid
STEPS = 6  # calls per stateful scenario
SCENARIOS = 8
BASE_URL = "http://fairslot.test"  # the test app's one trusted host
# Each field whose refusal no JSON Schema in the document can state: a place name must be one
# the server knows, a product one of its catalogue (both data), a name must hold a letter and,
# like an email address, no Unicode format, private-use or unassigned character.
# And a slot's dose 2 times exist only if the slot's product is given in two doses (data too).
DATA_RULES = {"#/zip", "#/product", "#/first_name", "#/last_name", "#/email"}
OPERATION_DATA_RULES = {
    "GET /api/v1/slots/{slot_id}/second-dose-slots": {"#/slot_id"},
    # A product id must be one of the catalogue's, active, for the chosen vaccine, and the
    # eligibility rules (residency, age, condition) are what state admins set (data, both).
    "POST /api/v1/preregistrations": {
        "#/product_id",
        "#/resident",
        "#/date_of_birth",
        "#/has_condition",
    },
    "PUT /api/v1/preregistrations/{token}/details": {"#/product_id"},
}
NOT_ELIGIBLE = "urn:fairslot:problem:not-eligible"
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _data_rule(response: Any, operation: str) -> bool:
    """A 422 refusing only what no schema can state (see DATA_RULES), or an eligibility rule."""
    if response.status_code != 422:
        return False
    body = json.loads(response.content)
    if body.get("type") == NOT_ELIGIBLE:
        return True
    pointers = {error["pointer"] for error in body.get("errors", [])}
    return bool(pointers) and pointers <= DATA_RULES | OPERATION_DATA_RULES.get(operation, set())


def positive_data_except_data_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis's positive_data_acceptance, but for the refusals DATA_RULES names."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _data_rule(response, case.operation.label):
            return None
        raise


def all_checks() -> list[Any]:
    """Every check the installed schemathesis registers, ours in place of positive acceptance."""
    load_all_checks()
    found = [c for c in CHECKS.get_all() if c is not positive_data_acceptance]
    return [*found, positive_data_except_data_rules]


@pytest.fixture(params=["off", "always"], ids=["room-off", "room-on"])
def api_app(request: Any, database_url: str, clock: Clock, tmp_path: Any) -> Iterator[Flask]:
    """A small world (two clinics, one- and two-dose slots this week), the room off or on."""
    # Without rate limits: every request comes from one address, and a 429 after the tenth would
    # hide what the rest would have found (the limits have tests of their own).
    with rolled_back_app(
        database_url, clock, tmp_path, QUEUE_MODE=request.param, RATELIMIT_ENABLED=False
    ) as app:
        with app.app_context():
            now = clock()
            near = make_clinic(db.session, now)
            make_clinic(db.session, now, name="Worcester Clinic", city="Worcester")
            pfizer = two_dose_product(db.session).id
            for day in (1, 2, 22, 23):
                make_slot(db.session, near, now + timedelta(days=day), capacity=30)
                make_slot(db.session, near, now + timedelta(days=day, hours=1), product_id=pfizer)
            db.session.commit()
        app.config["TEST_HEADERS"] = {"Accept-Encoding": "identity"}
        if request.param != "off":
            ticket = app.test_client().post("/api/v1/queue/tickets", json={})
            token = ticket.get_json()["admission_token"]
            app.config["TEST_HEADERS"]["Authorization"] = f"Bearer {token}"
        yield app


@pytest.fixture
def api_schema(api_app: Flask) -> Any:
    """The document the app serves, loaded by schemathesis, calling the app in-process."""
    loaded = schemathesis.openapi.from_dict(document(api_app))
    loaded.app = api_app
    return loaded


def _coverage(operation: Any, schema: Any, call: Any) -> None:
    """Schemathesis's coverage phase: each limit's edges, each type mutation, each missing field."""
    config = schema.config.generation_for(operation=operation, phase="coverage")
    generator = CoverageGenerator(
        operation=operation,
        generation_modes=list(GenerationMode),
        generation_config=config,
        auth_storage=None,
        override=Override(),
        feedback=NO_FEEDBACK,
    )
    for case in generator:
        call(case)


def _fuzz(operation: Any, mode: GenerationMode, call: Any) -> None:
    """Schemathesis's fuzzing phase: EXAMPLES generated requests of valid or invalid data."""

    # No feedback: its constants overlay (strings lifted from the app's own source) can put a
    # value outside a parameter's pattern, e.g. a product's name as a ZIP code, and still call
    # the request valid.
    @SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode, feedback=NO_FEEDBACK))
    def run(case: Any) -> None:
        call(case)

    run()


def _run(operation: Any, app: Flask, checks: list[Any], schema: Any) -> int:
    """Both phases on one operation, valid data and invalid; return how many requests."""
    sent = [0]

    def call(case: Any) -> None:
        sent[0] += 1
        case.call_and_validate(base_url=BASE_URL, headers=app.config["TEST_HEADERS"], checks=checks)

    _coverage(operation, schema, call)
    # An operation that takes nothing (the availability summary) has nothing to get wrong.
    takes = any(True for _ in operation.iter_parameters()) or bool(list(operation.body))
    for mode in GenerationMode if takes else [GenerationMode.POSITIVE]:
        _fuzz(operation, mode, call)
    return sent[0]


def test_every_operation_answers_as_documented(api_schema: Any, api_app: Flask) -> None:
    checks = all_checks()
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    sent = 0
    for operation in operations:
        try:
            sent += _run(operation, api_app, checks, api_schema)
        except (AssertionError, BaseExceptionGroup, HypothesisException) as failed:
            failures.append(f"{operation.label}: {failed}")
    print(f"schemathesis: {sent} requests")
    assert not failures, "\n\n".join(failures)


def test_the_stateful_phase_follows_the_links(api_schema: Any, api_app: Flask) -> None:
    checks = all_checks()

    class Machine(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": BASE_URL, "headers": api_app.config["TEST_HEADERS"]}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    Machine.run(
        settings=settings(
            SETTINGS, max_examples=SCENARIOS, stateful_step_count=STEPS, database=None
        )
    )
