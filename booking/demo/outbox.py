"""The demo outbox page: what the demo "sent", so a visitor can read their confirmation.

Only in demo and development, where messages go to the demo outbox instead of a provider. It
renders the outbox rows again with the same templates the sender uses.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Flask, Response, abort, render_template

from booking.clock import now
from booking.db import db
from booking.messages.compose import render_outbox_message
from booking.messages.render import Rendered
from booking.models import OutboxMessage
from booking.services import outbox

bp = Blueprint("demo", __name__, url_prefix="/demo")
PAGE_SIZE = 30


def init_app(app: Flask) -> None:
    """Register the page in demo and development only."""
    if app.config["FAIRSLOT_ENV"] in ("demo", "development"):
        app.register_blueprint(bp)


@bp.get("/outbox")
def demo_outbox() -> Any:
    """The latest messages, rendered as the resident receives them."""
    entries = []
    moment = now()
    for message in outbox.list_messages(db.session, limit=PAGE_SIZE):
        try:
            rendered = render_outbox_message(db.session, message, now=moment)
        except LookupError:
            continue
        qr = base64.b64encode(rendered.qr_png).decode() if rendered.qr_png else None
        entries.append({"message": message, "rendered": rendered, "qr": qr})
    return render_template("demo_outbox.html", entries=entries)


def _rendered(message_id: int) -> Rendered:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404)
    try:
        return render_outbox_message(db.session, message, now=now())
    except LookupError:
        abort(404)


@bp.get("/outbox/<int(max=2147483647):message_id>/email.html")
def demo_email(message_id: int) -> Any:
    """The HTML part of an email, as the resident's mail program shows it."""
    rendered = _rendered(message_id)
    if rendered.html is None:
        abort(404)
    return Response(rendered.html, mimetype="text/html")


@bp.get("/outbox/<int(max=2147483647):message_id>/appointment.ics")
def demo_calendar(message_id: int) -> Any:
    """The calendar file attached to an email, to open in a calendar program."""
    rendered = _rendered(message_id)
    if rendered.ics is None:
        abort(404)
    headers = {"Content-Disposition": 'attachment; filename="appointment.ics"'}
    return Response(rendered.ics, mimetype="text/calendar", headers=headers)
