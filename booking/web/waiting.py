"""What the waiting room's pages and the API's queue share.

The 503 while the queue's Redis is unreachable (a page, or a problem under /api), the 429 for
polling too often, the line as seen with the queue switched off, and a ticket's public figures.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Response, make_response, render_template, request
from werkzeug.exceptions import TooManyRequests

from admission.queue import PollLimited, TicketStatus
from admission.states import TicketState
from booking.clock import now
from booking.limits import poll_limit
from booking.messages.render import public_url
from booking.services.text import N_
from booking.web.problems import problem
from booking.web.queue_state import current_settings, get_queue

RETRY_SECONDS = 15
# The WSGI environ key under which ``fast_polls`` leaves a poll it made but did not answer.
POLLED = "fairslot.polled"


def poll_ticket(ticket: str, binding: str) -> TicketStatus:
    """Poll ``ticket`` for ``binding``, counted against this client's poll allowance.

    A poll the fast path already made for this request is used as it is, not made again: the
    client's allowance and the ticket's last-seen time then count it once.
    """
    polled = request.environ.pop(POLLED, None)
    if polled is not None and polled[:2] == (ticket, binding):
        outcome = polled[2]
        if isinstance(outcome, PollLimited):
            raise outcome
        return outcome  # type: ignore[no-any-return]
    return get_queue().poll(ticket, now=now().timestamp(), binding=binding, limit=poll_limit())


def unavailable_page() -> Response:
    """Redis is down: say so plainly and retry, rather than fail or let everyone through."""
    response = make_response(render_template("waiting_unavailable.html", retry=RETRY_SECONDS), 503)
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    response.headers["Refresh"] = str(RETRY_SECONDS)
    return response


def unavailable_problem() -> Response:
    """The same for API clients: a 503 problem with Retry-After."""
    return problem(
        503,
        N_("Waiting room unavailable"),
        N_("The waiting room is briefly unavailable. Try again shortly."),
        headers={"Retry-After": str(RETRY_SECONDS)},
    )


def too_many_polls(limited: PollLimited) -> TooManyRequests:
    """The 429 for a client polling past its allowance, with Retry-After."""
    return TooManyRequests(
        description=N_(
            "Too many attempts from your connection. Please wait a minute and try again."
        ),
        retry_after=limited.retry_after,
    )


def no_line_when_off(status: TicketStatus) -> TicketStatus:
    """With the queue switched off the gate lets everyone through: nobody is left waiting."""
    if status.state != TicketState.WAITING or current_settings().enabled:
        return status
    return replace(
        status,
        state=TicketState.ADMITTED,
        position=None,
        ahead=None,
        eta_seconds=None,
        poll_after_seconds=0,
    )


def status_body(status: TicketStatus) -> dict[str, Any]:
    """The ticket's public figures, shared by the page script and the API."""
    return {
        "ticket": status.ticket,
        "state": status.state,
        "phase": status.phase,
        "position": status.position,
        "ahead": status.ahead,
        "eta_seconds": status.eta_seconds,
        "poll_after_seconds": status.poll_after_seconds,
        "remaining_appointments": status.remaining,
        "sold_out": status.sold_out,
        "likely_too_late": status.likely_too_late,
        "paused": status.paused,
        "paused_message": status.paused_message or None,
        "opens_at": status.opens_at.isoformat() if status.opens_at else None,
        "updated_at": status.updated_at.isoformat(timespec="seconds"),
        "standby_url": public_url("waiting.standby") if status.sold_out else None,
    }
