"""The waiting room pages: a short eligibility check, the line, and the way in.

Works without JavaScript: the status page refreshes itself (a meta refresh in <noscript>) as
often as the server says; with JavaScript it updates in place from ``status.json``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from redis.exceptions import RedisError
from werkzeug.wrappers import Response as WerkzeugResponse

from admission.queue import PollLimited, QueueClosed, TicketStatus
from admission.states import LIVE_STATES, TicketState
from booking.clock import now
from booking.db import db
from booking.services import eligibility, inventory
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.waiting import bp
from booking.web.captcha import verify as verify_captcha
from booking.web.gate import (
    browser_binding,
    issue_token,
    remember_ticket,
    restore_lost_ticket,
    set_cookie_later,
)
from booking.web.queue_state import captcha_config, current_settings, get_queue, refresh_inventory
from booking.web.redirects import safe_next
from booking.web.waiting import (
    RETRY_SECONDS,
    no_line_when_off,
    poll_ticket,
    status_body,
    too_many_polls,
    unavailable_page,
)


def _live_ticket() -> TicketStatus | None:
    ticket = session.get("qticket")
    if not ticket:
        return None
    binding = browser_binding()
    if binding is None:
        session.pop("qticket", None)
        return None
    moment = now().timestamp()
    try:
        status = poll_ticket(ticket, binding)
        if status.state == TicketState.UNKNOWN and restore_lost_ticket(ticket, binding, moment):
            status = get_queue().poll(ticket, now=moment, binding=binding)
    except PollLimited as limited:
        raise too_many_polls(limited) from None
    if status.state not in LIVE_STATES:
        session.pop("qticket", None)
        return None
    return status


def _join_form(values: Any, errors: dict[str, str], status: int = 200, **extra: Any) -> Any:
    return render_template(
        "waiting_join.html",
        values=values,
        errors=errors,
        services=inventory.SERVICES,
        captcha=captcha_config(),
        settings=current_settings(),
        **extra,
    ), status


@bp.route("/waiting-room", methods=["GET", "POST"])
def join() -> Any:
    """Answer the eligibility questions and take a place in line (once per browser)."""
    if request.args.get("next"):
        session["qnext"] = safe_next(request.args["next"])
    try:
        if _live_ticket() is not None:
            # Refreshing, or joining twice, keeps the place you have: it gains and loses nothing.
            return redirect(url_for("waiting.status"), code=303)
        if request.method == "GET":
            return _join_form({}, {})
        values = {
            k: request.form.get(k, "")
            for k in ("service", "date_of_birth", "resident", "has_condition")
        }
        try:
            answers = eligibility.parse_answers(db.session, values, today=now().date())
        except InvalidInput as exc:
            return _join_form(values, exc.errors, 422)
        captcha = captcha_config()
        if captcha is not None:
            result = verify_captcha(
                captcha,
                request.form.get("h-captcha-response"),
                remote_ip=request.remote_addr,
                redis=get_queue().redis,
            )
            if not result.ok:
                message = N_("Please complete the check that you are not a robot, then try again.")
                return _join_form(values, {"captcha": message}, 422)
        binding = browser_binding(create=True)
        assert binding is not None
        try:
            # Count what is left first: a sold-out room must not let its first arrival in.
            refresh_inventory()
            moment = now().timestamp()
            status = get_queue().join(binding=binding, now=moment)
        except QueueClosed as closed:
            return _join_form(values, {}, 200, closed=closed)
        remember_ticket(status, moment)
        session["qservice"] = answers.service
        return redirect(url_for("waiting.status"), code=303)
    except RedisError:
        return unavailable_page()


def _status_or_redirect() -> TicketStatus | WerkzeugResponse:
    try:
        refresh_inventory()
        status = _live_ticket()
    except RedisError:
        return unavailable_page()
    if status is None:
        return redirect(url_for("waiting.join", lapsed=1), code=303)
    status = no_line_when_off(status)
    if status.state == TicketState.ADMITTED:
        binding = browser_binding()
        assert binding is not None
        set_cookie_later(issue_token(status.ticket, binding))
    return status


@bp.get("/waiting-room/status")
def status() -> Any:
    """Where you are in line; the page refreshes itself when the server says."""
    result = _status_or_redirect()
    if isinstance(result, WerkzeugResponse):
        return result
    next_url = session.get("qnext") or url_for("resident.index")
    response = make_response(
        render_template("waiting_status.html", status=result, next_url=next_url)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/waiting-room/status.json")
def status_json() -> Any:
    """The same figures for the page's script, which updates in place."""
    result = _status_or_redirect()
    if isinstance(result, WerkzeugResponse):
        if result.status_code == 503:
            body = {"state": "unavailable", "poll_after_seconds": RETRY_SECONDS}
            return jsonify(body), 503, {"Retry-After": str(RETRY_SECONDS)}
        return jsonify(state="lapsed", poll_after_seconds=0, join_url=url_for("waiting.join"))
    body = status_body(result)
    body["next_url"] = session.get("qnext") or url_for("resident.index")
    return jsonify(body), 200, {"Cache-Control": "no-store"}


@bp.get("/waiting-room/standby")
def standby() -> Any:
    """When nothing is left: how to hear about new appointments."""
    return render_template("waiting_standby.html", helpline=current_app.config["HELPLINE_PHONE"])
