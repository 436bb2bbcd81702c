"""Render any outbox message as it is sent: a booking's (render.py) or an invitation's
(invitation.py). The sender and the demo outbox both use it, so they show the same thing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from booking.messages.invitation import render_invitation
from booking.messages.render import Rendered, load_context, render_message
from booking.models import OutboxMessage


def render_outbox_message(session: Session, message: OutboxMessage, *, now: datetime) -> Rendered:
    """The message's text (and HTML, calendar file, QR code where it has them)."""
    if message.invitation_id is not None:
        return render_invitation(session, message)
    return render_message(load_context(session, message), now=now)
