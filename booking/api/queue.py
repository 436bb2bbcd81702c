"""The admission queue for API clients: take a ticket, poll it, get a bearer token."""

from __future__ import annotations

from typing import Any

from flask import request
from redis.exceptions import RedisError

from admission.queue import PollLimited, QueueClosed, TicketStatus
from admission.states import LIVE_STATES, TicketState
from booking.api import bp
from booking.api.common import json_object
from booking.clock import now
from booking.db import db
from booking.services import eligibility
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.services.text import N_
from booking.web.captcha import verify as verify_captcha
from booking.web.gate import API_BINDING, issue_token
from booking.web.queue_state import captcha_config, get_queue, refresh_inventory
from booking.web.waiting import (
    no_line_when_off,
    poll_ticket,
    status_body,
    too_many_polls,
    unavailable_problem,
)


class QueueNotOpen(DomainError):
    """The waiting room has not opened yet."""

    status = 409
    title = N_("Waiting room not open")


def _body(status: TicketStatus) -> dict[str, Any]:
    status = no_line_when_off(status)
    body = status_body(status)
    if status.state == TicketState.ADMITTED:
        body["admission_token"] = issue_token(status.ticket, API_BINDING)
    return body


@bp.post("/v1/queue/tickets")
def create_ticket() -> Any:
    """Join the line (after hCaptcha, when configured, and the optional eligibility check)."""
    body = json_object(optional=True)
    if any(k in body for k in ("service", "date_of_birth", "resident", "has_condition")):
        eligibility.parse_answers(db.session, body, today=now().date())
    captcha = captcha_config()
    try:
        if captcha is not None:
            response = body.get("hcaptcha_response")
            result = verify_captcha(
                captcha,
                response if isinstance(response, str) else None,
                remote_ip=request.remote_addr,
                redis=get_queue().redis,
            )
            if not result.ok:
                raise InvalidInput(
                    N_("The hCaptcha response was not accepted."),
                    errors={"hcaptcha_response": result.reason},
                )
        # Count what is left before joining: a sold-out room must not let its first arrival in.
        refresh_inventory()
        try:
            status = get_queue().join(binding=API_BINDING, now=now().timestamp())
        except QueueClosed as closed:
            raise QueueNotOpen(
                N_(
                    "The waiting room opens at %(time)s.",
                    time=closed.prequeue_from.isoformat(),
                )
            ) from None
        return _body(status), 201
    except RedisError:
        return unavailable_problem()


@bp.get("/v1/queue/tickets/<ticket>")
def get_ticket(ticket: str) -> Any:
    """Where a ticket stands; once admitted, the answer carries the admission token."""
    if len(ticket) > 64:
        raise NotFound(N_("No ticket with that id."))
    try:
        refresh_inventory()
        # A browser's ticket is not the API's: it reads as unknown and is left untouched.
        status = poll_ticket(ticket, API_BINDING)
    except RedisError:
        return unavailable_problem()
    except PollLimited as limited:
        raise too_many_polls(limited) from None
    if status.state == TicketState.UNKNOWN:
        raise NotFound(N_("No ticket with that id."))
    if status.state not in LIVE_STATES:
        raise NotFound(N_("This ticket has lapsed. Join the line again."))
    return _body(status)
