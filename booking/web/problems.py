"""RFC 9457 problem details for every API error, including Flask's own 4xx and 5xx."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

from booking.i18n import bcp47, current_locale, translate, translate_all
from booking.services.errors import DomainError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, str] | None = None,
) -> Response:
    """Build an application/problem+json response, its marked texts in the client's language."""
    body: dict[str, Any] = {"type": type_, "title": str(translate(title)), "status": status}
    if detail:
        body["detail"] = str(translate(detail))
    body["instance"] = request.path
    body.update(extensions or {})
    if errors:
        # RFC 9457 section 3's example extension: one entry per field, with a JSON pointer.
        body["errors"] = [
            {"pointer": f"#/{field}", "detail": message}
            for field, message in translate_all(errors).items()
        ]
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    response.headers["Content-Language"] = bcp47(current_locale())
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_domain_error(exc: DomainError) -> Response:
    """Render a domain error as a problem with a stable type URN, in the client's language."""
    return problem(
        exc.status,
        exc.title,
        exc.detail,
        # The type is built from the English title: it names the problem in every language.
        type_=f"urn:fairslot:problem:{_slug(str(exc.title))}",
        errors=exc.errors,
        extensions=exc.extensions(),
    )


def from_http_exception(exc: HTTPException) -> Response:
    """Render a werkzeug HTTP error (404, 405, 413, 429, ...) as a problem."""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in {"content-type"}}
    detail = exc.description if status < 500 else None
    return problem(status, exc.name, detail, headers=headers)


def register(bp: Any) -> None:
    """Answer domain errors raised by API views with problem details."""
    bp.register_error_handler(DomainError, from_domain_error)
