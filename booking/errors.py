"""App-wide error pages: problem+json under /api, a plain page elsewhere, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, redirect, render_template, request, url_for
from markupsafe import escape
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    SecurityError,
    ServiceUnavailable,
)

from booking.db import is_retryable, is_unavailable
from booking.i18n import translate
from booking.services.errors import DomainError
from booking.services.text import N_
from booking.web.gate import AdmissionRequired, QueueUnavailable
from booking.web.problems import from_domain_error, from_http_exception, problem
from booking.web.waiting import unavailable_page, unavailable_problem

log = logging.getLogger(__name__)


# Werkzeug's own titles and descriptions are English only: the error page shows these instead.
_TITLES = {
    400: N_("Bad request"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    410: N_("No longer available"),
    413: N_("Too much data"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
    503: N_("Briefly unavailable"),
}
_GENERIC_DETAIL = N_("We could not handle that request. Go back and try again.")


def _page_text(exc: HTTPException) -> tuple[str, str]:
    """The error page's title and text, in the reader's language where we wrote them."""
    title = _TITLES.get(exc.code or 500, exc.name)
    # A description written by our code (already translated, or marked) is kept; werkzeug's
    # default one is replaced by ours.
    detail = exc.description or ""
    if detail == type(exc).description:
        detail = _GENERIC_DETAIL
    return title, detail


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if _wants_problem():
            return from_http_exception(exc)
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        try:
            title, detail = _page_text(exc)
            page = render_template("error.html", status=exc.code, title=title, detail=detail)
        except Exception:
            # The error page itself failed (a broken template): still answer, plainly.
            log.exception("error page failed to render")
            page = f"<!doctype html><title>{exc.code}</title><h1>{exc.code} {exc.name}</h1>"
        return page, exc.code or 500, headers

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError) -> Any:
        # A Host outside FAIRSLOT_PUBLIC_URL's and FAIRSLOT_TRUSTED_HOSTS: no URL can be built
        # for it (nor should one be), so the answer names nothing and links nowhere.
        detail = N_("This site does not answer to that host name.")
        if _wants_problem():
            return problem(400, N_("Bad request"), detail)
        text = escape(str(translate(detail)))
        return f"<!doctype html><title>400</title><h1>400</h1><p>{text}</p>", 400

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        if _wants_problem():
            return from_domain_error(exc)
        return render_template(
            "error.html", status=exc.status, title=exc.title, detail=exc.detail
        ), exc.status

    @app.errorhandler(AdmissionRequired)
    def admission_required(exc: AdmissionRequired) -> Any:
        if _wants_problem():
            return problem(
                401,
                N_("Admission required"),
                N_(
                    "Holds and confirmations need an admission token while the waiting room is "
                    "on. Take a ticket with POST /api/v1/queue/tickets, poll it until you are "
                    "admitted, and send the token as 'Authorization: Bearer <token>'."
                ),
                type_="urn:fairslot:problem:admission-required",
                headers={"WWW-Authenticate": 'Bearer realm="fairslot-admission"'},
            )
        return redirect(url_for("waiting.join", next=request.full_path), code=303)

    @app.errorhandler(QueueUnavailable)
    def queue_unavailable(exc: QueueUnavailable) -> Any:
        if _wants_problem():
            return unavailable_problem()
        return unavailable_page()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if is_retryable(exc):
            # Still conflicting after every retry: a busy moment, not a bug. Ask to retry.
            log.warning("transient database conflict persisted on %s", request.path)
            return http_error(ServiceUnavailable(retry_after=2))
        if is_unavailable(exc):
            # The database went away (a restart, a failover): nothing was written; come back soon.
            log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            return http_error(ServiceUnavailable(retry_after=5))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return http_error(InternalServerError())
