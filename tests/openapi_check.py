"""Every test-client response under /api/v1/ is checked against the OpenAPI document.

A pytest plugin (named in conftest.py's ``pytest_plugins``): while a test runs, every Flask
app's test client is a ``CheckedClient``, which validates each API response it receives
(status, media type, body) with openapi-core against the document the app itself serves.
A response that drifts from the document fails the test that received it.
"""

from __future__ import annotations

import json
import weakref
from functools import lru_cache
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_schema_validator import OAS31Validator
from werkzeug.test import TestResponse

from booking.api.openapi import document

API_PREFIX = "/api/v1/"
PROBLEM_JSON = "application/problem+json"
_SPECS: weakref.WeakKeyDictionary[Flask, tuple[dict[str, Any], OpenAPI]] = (
    weakref.WeakKeyDictionary()
)


# A field the document does not name is drift too: objects are closed while checking, though
# the published document leaves them open for clients (new fields must not break them).
_CONFIG = Config(
    extra_media_type_deserializers={PROBLEM_JSON: json_loads},
    additional_properties_default_policy="forbid",
)


class _Sent(WerkzeugOpenAPIRequest):
    """The request a response answered; its body was consumed by the app and is not needed."""

    @property
    def body(self) -> bytes:
        """Nothing: only the response is checked."""
        return b""


@lru_cache(maxsize=4)
def _parsed(serialized: str) -> tuple[dict[str, Any], OpenAPI]:
    # Building an OpenAPI object validates the whole document: once per distinct document.
    return json.loads(serialized), OpenAPI.from_dict(json.loads(serialized), config=_CONFIG)


def spec_of(app: Flask) -> tuple[dict[str, Any], OpenAPI]:
    """The document ``app`` serves, and openapi-core's validator for it."""
    if app not in _SPECS:
        _SPECS[app] = _parsed(json.dumps(document(app), sort_keys=True))
    return _SPECS[app]


def _errors(exc: BaseException) -> str:
    cause = exc.__cause__
    found = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None) or []
    lines = [f"{exc.__class__.__name__}: {exc}"]
    if cause is not None and not found:
        lines.append(f"{cause.__class__.__name__}: {cause}")
    lines += [f"  at {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in found]
    return "\n".join(lines)


def check_response(app: Flask, response: TestResponse) -> None:
    """Fail if an /api/v1/ response does not match the document; other paths pass unchecked."""
    request = response.request
    if not request.path.startswith(API_PREFIX):
        return
    raw, spec = spec_of(app)
    where = f"{request.method} {request.path} -> {response.status_code}"
    try:
        spec.validate_response(_Sent(request), WerkzeugOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound):
        # A route the API does not have (404, 405): the answer is still a problem document.
        if response.mimetype != PROBLEM_JSON:
            raise AssertionError(f"{where}: {response.mimetype}, not {PROBLEM_JSON}") from None
        problem = raw["components"]["schemas"]["Problem"]
        body = response.get_json(force=True)
        found = [e.message for e in OAS31Validator(problem).iter_errors(body)]
        found += [f"{name!r} is not documented" for name in set(body) - set(problem["properties"])]
        if found:
            raise AssertionError(f"{where}: {found}") from None
    except OpenAPIError as exc:
        body = response.get_data(as_text=True)[:2000]
        raise AssertionError(
            f"{where} does not match the OpenAPI document:\n{_errors(exc)}\n{body}"
        ) from exc


class CheckedClient(FlaskClient):
    """A Flask test client that checks every API response against the OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        """Send the request, then check the API response it got."""
        response = super().open(*args, **kwargs)
        check_response(self.application, response)
        return response


@pytest.fixture(autouse=True)
def _checked_api_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give every app created during the test the checking test client."""
    monkeypatch.setattr(Flask, "test_client_class", CheckedClient)
