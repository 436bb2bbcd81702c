"""The demo outbox page: what the demo "sent", so a visitor can read their confirmation.

Only in demo and development, where messages go to the demo outbox instead of a provider. It
renders the outbox rows again with the same templates the sender uses.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Flask, render_template

from booking.clock import now
from booking.db import db
from booking.messages.render import load_context, render_message
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
            rendered = render_message(load_context(db.session, message), now=moment)
        except LookupError:
            continue
        qr = base64.b64encode(rendered.qr_png).decode() if rendered.qr_png else None
        entries.append({"message": message, "rendered": rendered, "qr": qr})
    return render_template("demo_outbox.html", entries=entries)
