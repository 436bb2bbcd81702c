"""Staff sign-in (password, then TOTP where required), sign-out and the console's front page."""

from __future__ import annotations

from typing import Any

import pyotp
from flask import (
    Blueprint,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf

from booking.clock import now
from booking.db import db
from booking.messages.qr import qr_svg
from booking.models import Role, StaffUser
from booking.services import staff as staff_service
from booking.services.errors import DomainError
from booking.services.text import N_
from booking.web.access import (
    STAFF_COOKIE,
    audit,
    bind_session,
    current_staff,
    policy,
    staff_route,
)
from booking.web.redirects import safe_next

bp = Blueprint("staff", __name__, url_prefix="/staff")
ALL_ROLES = tuple(r.value for r in Role)
PENDING_SECONDS = 300


def _finish_sign_in(user: StaffUser) -> Any:
    next_url = session.get("staff_next") or url_for("staff.home")
    token = db.transaction(lambda s: _open(s, user.id))
    # A fresh session at sign-in, bound to the staff session: nothing from before it (a planted
    # id, a CSRF token) survives, and its CSRF token is good only beside this staff cookie.
    bind_session(token)
    generate_csrf()
    response = make_response(redirect(safe_next(next_url), code=303))
    response.set_cookie(
        STAFF_COOKIE,
        token,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Strict",
        max_age=current_app.config["STAFF_ABSOLUTE_HOURS"] * 3600,
    )
    return response


def _open(s: Any, user_id: int) -> str:
    user = staff_service.get_user(s, user_id)
    token = staff_service.start_session(s, user, now=now(), policy=policy(), ip=request.remote_addr)
    g.staff = user
    audit("staff.sign_in", record_type="staff_user", record_id=user.id)
    return token


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    """Email and password; then the second factor if the account needs one."""
    if request.args.get("next"):
        session["staff_next"] = safe_next(request.args["next"])
    if request.method == "GET":
        return render_template("staff/sign_in.html", values={}, error=None)
    email = request.form.get("email", "")[:254]
    password = request.form.get("password", "")[:1024]

    def attempt(s: Any) -> tuple[StaffUser | None, DomainError | None]:
        try:
            return staff_service.authenticate(s, email, password, now=now(), policy=policy()), None
        except (staff_service.SignInRefused, staff_service.AccountLocked) as exc:
            return None, exc  # committed: the failure counts towards the lockout

    user, error = db.transaction(attempt)
    if user is None:
        assert error is not None
        page = render_template("staff/sign_in.html", values={"email": email}, error=error.detail)
        return page, error.status
    if staff_service.needs_second_factor(user):
        session["staff_pending"] = {"id": user.id, "at": now().timestamp()}
        if user.totp_secret is None:
            session["staff_enrol_secret"] = staff_service.new_totp_secret()
        return redirect(url_for("staff.second_factor"), code=303)
    return _finish_sign_in(user)


@bp.route("/two-factor", methods=["GET", "POST"])
def second_factor() -> Any:
    """The 6-digit code from an authenticator app (and enrolment the first time)."""
    pending = session.get("staff_pending")
    if not pending or now().timestamp() - pending["at"] > PENDING_SECONDS:
        session.pop("staff_pending", None)
        return redirect(url_for("staff.sign_in"), code=303)
    user = staff_service.get_user(db.session, pending["id"])
    enrol_secret = session.get("staff_enrol_secret") if user.totp_secret is None else None
    secret = user.totp_secret or enrol_secret
    assert secret is not None
    enrol_uri = (
        pyotp.TOTP(enrol_secret).provisioning_uri(name=user.email, issuer_name="FairSlot")
        if enrol_secret
        else None
    )
    context: dict[str, Any] = {
        "enrol_secret": enrol_secret,
        "enrol_uri": enrol_uri,
        "enrol_qr": qr_svg(enrol_uri) if enrol_uri else None,
        # The demo shows the current code, so visitors need no authenticator app.
        "demo_code": pyotp.TOTP(secret).at(now())
        if current_app.config["FAIRSLOT_ENV"] == "demo"
        else None,
        "error": None,
    }
    if request.method == "GET":
        return render_template("staff/two_factor.html", **context)
    code = request.form.get("code", "")[:20]
    outcome = db.transaction(
        lambda s: _use_code(s, user.id, secret, code, enrolling=bool(enrol_secret))
    )
    if outcome is staff_service.TotpOutcome.WRONG:
        context["error"] = N_("That code is not right. Enter the 6 digits your app shows now.")
        return render_template("staff/two_factor.html", **context), 401
    if outcome is staff_service.TotpOutcome.REPLAYED:
        context["error"] = N_("That code was already used. Wait for the next code in your app.")
        return render_template("staff/two_factor.html", **context), 401
    return _finish_sign_in(user)


def _use_code(
    s: Any, user_id: int, secret: str, code: str, *, enrolling: bool
) -> staff_service.TotpOutcome:
    """Spend the code (once); a replay is audited, an enrolment's secret kept."""
    outcome = staff_service.use_totp(s, user_id, secret, code, now=now())
    user = staff_service.get_user(s, user_id)
    if outcome is staff_service.TotpOutcome.REPLAYED:
        # Committed although refused: someone holds the password and a code already used.
        staff_service.record_audit(
            s,
            actor=user,
            action="staff.totp_replay",
            now=now(),
            record_type="staff_user",
            record_id=user_id,
            request_id=g.get("request_id"),
            ip=request.remote_addr,
        )
    elif outcome is staff_service.TotpOutcome.ACCEPTED and enrolling:
        user.totp_secret = secret
    return outcome


@bp.post("/sign-out")
def sign_out() -> Any:
    """End the session at once, on the server too."""
    token = request.cookies.get(STAFF_COOKIE)
    if token:
        db.transaction(lambda s: staff_service.end_session(s, token[:100], now=now()))
    session.clear()
    generate_csrf()  # a new token: none from the signed-in pages works after signing out
    response = make_response(redirect(url_for("staff.sign_in"), code=303))
    response.delete_cookie(STAFF_COOKIE)
    return response


@bp.get("/")
@staff_route(*ALL_ROLES)
def home() -> Any:
    """Each role's starting points."""
    return render_template("staff/home.html", user=current_staff())
