"""Who may see what: the one place every staff route's role and clinic are checked.

A staff view declares its roles with ``@staff_route(...)``. Before every request, this module
resumes the staff session from its cookie and, for a view that declares roles, refuses anyone
signed out (redirect to sign-in, or 401 for JSON), anyone of another role (403) and, for
clinic roles, any ``clinic_id`` in the URL that is not one of their clinics (404, so other
clinics' ids are not even confirmed to exist). A view without the declaration is public; the
access-matrix test lists every route so none is forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError

from booking import correlation
from booking.clock import now
from booking.db import db
from booking.models import CLINIC_ROLES, ClinicApiKey, StaffUser
from booking.services import api_keys
from booking.services import staff as staff_service

STAFF_COOKIE = "fairslot_staff"
F = TypeVar("F", bound=Callable[..., Any])
BINDING_KEY = "staff_binding"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def staff_route(*roles: str) -> Callable[[F], F]:
    """Declare which roles may use a view (checked centrally before the view runs)."""

    def mark(view: F) -> F:
        view.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return mark


def key_route(view: F) -> F:
    """Declare a view of the clinic systems API: a clinic's API key (Bearer) is required.

    The key is checked centrally before the view runs (so its rate limit counts per key); the
    view checks it again, locked, inside its own transaction, and checks the clinic's scope.
    """
    view.key_scoped = True  # type: ignore[attr-defined]
    return view


def policy() -> staff_service.Policy:
    """Sign-in rules from the app's configuration."""
    config = current_app.config
    return staff_service.Policy(
        max_failures=config["STAFF_MAX_FAILURES"],
        lockout_minutes=config["STAFF_LOCKOUT_MINUTES"],
        idle_minutes=config["STAFF_IDLE_MINUTES"],
        absolute_hours=config["STAFF_ABSOLUTE_HOURS"],
    )


def current_staff() -> StaffUser | None:
    """The signed-in staff member of this request, if any."""
    staff: StaffUser | None = g.get("staff")
    return staff


def staff_clinics() -> set[int]:
    """The clinics the signed-in clinic staff member belongs to (cached per request)."""
    if "staff_clinics" not in g:
        user = current_staff()
        g.staff_clinics = staff_service.clinic_ids_of(db.session, user) if user else set()
    clinics: set[int] = g.staff_clinics
    return clinics


def can_use_clinic(clinic_id: int) -> bool:
    """Whether the signed-in staff member may see and change this clinic."""
    user = current_staff()
    if user is None:
        return False
    if user.role in CLINIC_ROLES:
        return clinic_id in staff_clinics()
    return True


def staff_binding(token: str) -> str:
    """What ties the browser session, and so its CSRF token, to one staff session."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"fairslot-staff-binding:" + token.encode(), hashlib.sha256).hexdigest()


def bind_session(token: str) -> None:
    """Start a fresh browser session (a new CSRF token) that belongs to this staff session."""
    session.clear()
    session[BINDING_KEY] = staff_binding(token)


def _load_staff() -> None:
    token = request.cookies.get(STAFF_COOKIE)
    g.staff = None
    if token and len(token) < 100:
        g.staff = db.transaction(
            lambda s: staff_service.resume_session(s, token, now=now(), policy=policy())
        )
    if g.staff is not None and token and session.get(BINDING_KEY) != staff_binding(token):
        # The browser session (and the CSRF token it holds) is not this staff session's: one
        # from before sign-in, or someone else's planted beside a stolen or ridden staff cookie.
        if request.method not in _SAFE_METHODS:
            raise CSRFError()
        bind_session(token)  # a plain page view: start afresh, with a token of its own


def presented_key() -> str:
    """The API key a request presents as a Bearer token (empty if none)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def audit_key_refusal(key: ClinicApiKey | None, status: int, detail: str) -> None:
    """Record a refused use of a known key, in a transaction of its own (the work rolled back)."""
    if key is None:
        return
    db.transaction(
        lambda s: staff_service.record_audit(
            s,
            actor=None,
            action="clinic_api.refused",
            now=now(),
            record_type="api_key",
            record_id=key.id,
            clinic_id=key.clinic_id,
            request_id=g.get("request_id"),
            ip=request.remote_addr,
            detail={"key": key.prefix, "path": request.path[:200], "status": status, "why": detail},
        )
    )


def _load_api_key() -> None:
    secret = current_app.config["SECRET_KEY"]
    presented = presented_key()
    try:
        g.api_key = db.transaction(lambda s: api_keys.authenticate(s, presented, secret_key=secret))
    except api_keys.KeyRefused as exc:
        audit_key_refusal(exc.key, exc.status, str(exc.detail))
        # Raised by the view (require_key), after the rate limiter has counted the attempt
        # against the client's address: guessing keys is limited like anything else.
        g.key_refused = exc


def require_key() -> None:
    """Refuse the request if the key it presented was refused (first thing a key view does)."""
    refused: api_keys.KeyRefused | None = g.get("key_refused")
    if refused is not None:
        raise refused


def _check_access() -> Response | None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "key_scoped", False):
        _load_api_key()
        return None
    roles = getattr(view, "required_roles", None)
    if roles is None:
        return None
    user = current_staff()
    if user is None:
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            abort(401)
        return redirect(url_for("staff.sign_in", next=request.full_path))  # type: ignore[return-value]
    if user.role not in roles:
        abort(403)
    clinic_id = (request.view_args or {}).get("clinic_id")
    if clinic_id is not None and not can_use_clinic(int(clinic_id)):
        abort(404)
    return None


def request_id(presented: str) -> str:
    """The request's id: the one the proxy presented if it looks like one, else a new one."""
    return correlation.accept_or_make(presented)


def init_app(app: Flask) -> None:
    """Install the access check on every request (booking.logs gives it its id first)."""

    @app.before_request
    def _before() -> Response | None:
        if request.endpoint and request.endpoint != "static":
            _load_staff()
        return _check_access()

    @app.after_request
    def _after(response: Response) -> Response:
        if g.get("staff") is not None:
            response.headers["Cache-Control"] = "no-store"  # staff pages hold personal data
        return response


def audit(action: str, **fields: Any) -> None:
    """Record what the signed-in staff member did or saw, in the current transaction."""
    staff_service.record_audit(
        db.session,
        actor=current_staff(),
        action=action,
        now=now(),
        request_id=g.get("request_id"),
        ip=request.remote_addr,
        **fields,
    )
