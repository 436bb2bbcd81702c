"""The demo outbox page: what the demo "sent", so a visitor can read their confirmation.

Only where ``FAIRSLOT_DEMO_OUTBOX`` is on (by default in demo and development, where messages go
to the demo outbox instead of a provider; the browser tests turn it on; production refuses it).
It renders the outbox rows again with the same templates the sender uses.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template

from booking.clock import now
from booking.db import db
from booking.messages.compose import render_outbox_message
from booking.messages.render import Rendered
from booking.models import OutboxMessage
from booking.services import outbox

bp = Blueprint("demo", __name__, url_prefix="/demo")
PAGE_SIZE = 30
_URL = re.compile(r"https?://[^\s<>\"']+")


def text_parts(text: str, public_url: str) -> list[tuple[str, bool]]:
    """The message text in pieces, each marked whether it is a link to this site: those are
    made links on the page, as a phone or mail program would, and nothing else is."""
    parts: list[tuple[str, bool]] = []
    start = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:)")
        ours = url.startswith(public_url.rstrip("/") + "/")
        parts.append((text[start : match.start()], False))
        parts.append((url, ours))
        start = match.start() + len(url)
    parts.append((text[start:], False))
    return [(piece, link) for piece, link in parts if piece]


def init_app(app: Flask) -> None:
    """Register the page where FAIRSLOT_DEMO_OUTBOX is on (never in production)."""
    if app.config["DEMO_OUTBOX"]:
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
        parts = text_parts(rendered.text, current_app.config["PUBLIC_URL"])
        entries.append({"message": message, "rendered": rendered, "qr": qr, "parts": parts})
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
