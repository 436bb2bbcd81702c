"""The gate in front of holds and confirms: a valid admission token, or the waiting room.

Browsers carry the token in the ``fairslot_admission`` cookie, bound to a random id in their
session; API clients send ``Authorization: Bearer <token>``, bound to the API. Tokens are
renewed while the user is active.

Redis down: a request with a validly signed, unexpired token still passes (people already in
can finish booking; revocation cannot be checked until Redis is back); without one, the gate
answers 503 with Retry-After instead of admitting anyone unchecked.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request, session
from redis.exceptions import RedisError

from admission import tokens
from admission.queue import QueueClosed, TicketStatus
from admission.states import LIVE_STATES, TicketState
from booking.clock import now
from booking.web.queue_state import current_settings, get_queue, refresh_inventory

log = logging.getLogger(__name__)
COOKIE = "fairslot_admission"
API_BINDING = "api"


class AdmissionRequired(Exception):
    """The queue is on and this request carries no valid admission."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class QueueUnavailable(Exception):
    """Redis is unreachable and the request has no token to fall back on."""


@dataclass(frozen=True)
class Admission:
    """Who got through the gate (ticket is None while the queue is off)."""

    ticket: str | None


def browser_binding(create: bool = False) -> str | None:
    """The random id that binds admission tokens to this browser's session."""
    sid = session.get("qsid")
    if sid is None and create:
        sid = session["qsid"] = secrets.token_urlsafe(16)
    return sid


def remember_ticket(status: TicketStatus, moment: float) -> None:
    """Keep a new ticket in this browser's signed session, with what restores it if lost."""
    session["qticket"] = status.ticket
    if status.place is not None:
        session["qplace"] = status.place
        session["qjoined"] = int(moment)


def restore_lost_ticket(ticket: str, binding: str, moment: float) -> bool:
    """Put back this browser's ticket in its place if the line's Redis lost it (a failover)."""
    place, joined = session.get("qplace"), session.get("qjoined")
    if session.get("qticket") != ticket or place is None or joined is None:
        return False
    restored = get_queue().restore(
        ticket, binding=binding, issued_at=float(joined), now=moment, place=float(place)
    )
    if restored:
        log.warning("restored a waiting ticket Redis had lost, at its place %s", place)
    return restored


def issue_token(ticket: str, binding: str) -> str:
    """Sign a token valid for one session length from now."""
    minutes = current_settings().session_minutes
    expires = int(now().timestamp()) + minutes * 60
    return tokens.sign(current_app.config["SECRET_KEY"], ticket, expires, binding)


def set_cookie_later(token: str) -> None:
    """Ask the after-request hook to set the admission cookie on this response."""
    g.admission_cookie = token


def _presented(api: bool) -> tuple[str | None, str | None]:
    if api:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return (value.strip() or None) if scheme.lower() == "bearer" else None, API_BINDING
    return request.cookies.get(COOKIE), browser_binding()


def require_admission(*, api: bool) -> Admission:
    """Pass the request if the queue is off or it carries a valid admission; else raise."""
    settings = current_settings()
    if not settings.enabled:
        return Admission(None)
    if g.get("staff") is not None:
        # Signed-in staff and 2-1-1 agents never queue: they draw on the same inventory.
        return Admission(None)
    token, binding = _presented(api)
    if not token or not binding:
        raise AdmissionRequired("no admission token")
    moment = now().timestamp()
    try:
        claims = tokens.verify(current_app.config["SECRET_KEY"], token, binding=binding, now=moment)
    except tokens.TokenError as exc:
        raise AdmissionRequired(str(exc)) from None
    try:
        state = get_queue().touch(claims.ticket, now=moment)
    except RedisError:
        log.warning("Redis unreachable: accepting a validly signed admission token unchecked")
        return Admission(claims.ticket)
    if state == TicketState.UNKNOWN and _restore_admission(claims, binding, moment):
        state = TicketState.ADMITTED
    if state != TicketState.ADMITTED:
        raise AdmissionRequired(f"ticket is {state}")
    if claims.expires_at - moment < settings.session_minutes * 30:
        # Renew while active: past half its life, the token is reissued for a full session.
        renewed = issue_token(claims.ticket, binding)
        if api:
            g.renewed_admission_token = renewed
        else:
            set_cookie_later(renewed)
    return Admission(claims.ticket)


def _restore_admission(claims: tokens.Claims, binding: str, moment: float) -> bool:
    """A valid token for a ticket Redis has no trace of: it was lost (a failover), admit again."""
    issued_at = claims.expires_at - current_settings().session_minutes * 60
    try:
        restored = get_queue().restore(
            claims.ticket, binding=binding, issued_at=issued_at, now=moment, place=None
        )
    except RedisError:
        return False
    if restored:
        log.warning("restored an admission Redis had lost")
    return restored


def admission_for_move(*, api: bool) -> tuple[bool, str | None]:
    """For a move: whether the waiting room applies to this caller, and its valid admission.

    Moving within a clinic needs none, so nothing is refused here: the reschedule service
    refuses a move to another clinic when the room applies and no admission was presented.
    """
    settings = current_settings()
    if not settings.enabled or g.get("staff") is not None:
        return False, None
    try:
        return True, require_admission(api=api).ticket
    except AdmissionRequired:
        return True, None


GATED = "requires_admission"  # the attribute ``gated`` sets on a view
_View = TypeVar("_View", bound=Callable[..., Any])


def gated(view: _View) -> _View:
    """Mark an API view that calls ``require_admission(api=True)``, for the OpenAPI document."""
    setattr(view, GATED, True)
    return view


def leave_after_booking(ticket: str | None) -> None:
    """Give a booked person's active place in the line to the next one (best-effort).

    Call only after the booking is committed: a Redis failure here is logged and swallowed,
    because the booking stands either way and the place frees itself after the idle timeout.
    """
    if not ticket:
        return
    try:
        get_queue().leave(ticket)
    except RedisError:
        log.warning("Redis unreachable: a booked ticket keeps its active place until idle")


def forget_spent_admission() -> None:
    """After a spent admission is refused: this browser's next join takes a new place in line."""
    session.pop("qticket", None)


def try_auto_admit() -> Admission | None:
    """In ``auto`` mode with room to spare, admit this browser at once without a visible line."""
    if current_settings().mode != "auto":
        return None
    binding = browser_binding(create=True)
    assert binding is not None
    try:
        refresh_inventory()  # nothing left means nobody is let in, not even the first
        queue, moment = get_queue(), now().timestamp()
        # A browser already in line keeps its place: asking again must not send it to the back.
        status = queue.poll(session["qticket"], now=moment) if session.get("qticket") else None
        if status is None or status.state not in LIVE_STATES or status.binding != binding:
            status = queue.join(binding=binding, now=moment)
            remember_ticket(status, moment)
    except RedisError:
        raise QueueUnavailable() from None
    except QueueClosed:
        return None  # not open yet: the waiting room says when it opens
    session["qticket"] = status.ticket
    if status.state != TicketState.ADMITTED:
        return None
    set_cookie_later(issue_token(status.ticket, binding))
    return Admission(status.ticket)


def init_app(app: Flask) -> None:
    """Set renewed admission cookies and expose renewed API tokens in a header."""

    @app.after_request
    def _admission_headers(response: Response) -> Response:
        token = g.pop("admission_cookie", None)
        if token:
            response.set_cookie(
                COOKIE,
                token,
                max_age=current_settings().session_minutes * 60,
                httponly=True,
                secure=current_app.config["SESSION_COOKIE_SECURE"],
                samesite="Lax",
            )
        renewed = g.pop("renewed_admission_token", None)
        if renewed:
            response.headers["X-Admission-Token"] = renewed
        return response
