"""The waiting room's live view and controls, for state admins."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from redis.exceptions import RedisError

from admission.settings import SettingsError
from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import Role
from booking.services.text import N_
from booking.web.access import audit, staff_route
from booking.web.queue_state import current_settings, get_queue, refresh_inventory

# Each mode's name and what it does, in the words the page shows beside the choice.
MODES: dict[str, tuple[str, str]] = {
    "off": (
        N_("Off"),
        N_(
            "No waiting room. Everyone goes straight to booking, and nothing limits how many "
            "people book at the same time."
        ),
    ),
    "auto": (
        N_("Automatic"),
        N_(
            "People go straight to booking while there is room within the limits on active "
            "users and on admissions per minute. When there is not, a line forms and they are "
            "let in in the order they came."
        ),
    ),
    "always": (
        N_("Always"),
        N_(
            "Everyone passes through the waiting room page first, even when there is room, "
            "and is let in in the order they came, within the same limits."
        ),
    ),
    "paused": (
        N_("Paused"),
        N_(
            "Nobody new is let in. People in line keep their place and see the pause message; "
            "people already let in can finish booking."
        ),
    ),
}


@bp.app_template_global("queue_mode_words")
def mode_words(mode: str) -> tuple[str, str]:
    """A queue mode's name and what it does, for the reader."""
    return MODES.get(str(mode), (str(mode), ""))


EDITABLE = (
    "mode",
    "max_active",
    "admit_per_minute",
    "opens_at",
    "prequeue_minutes",
    "session_minutes",
    "idle_minutes",
    "paused_message",
)


def _page(error: str | None = None, status: int = 200, values: Any = None) -> Any:
    try:
        refresh_inventory()
        stats = get_queue().stats(now=now().timestamp())
        settings = get_queue().settings()
        redis_ok = True
    except RedisError:
        stats, settings, redis_ok = None, current_settings(), False
    return render_template(
        "admin/queue.html",
        stats=stats,
        settings=settings,
        values=values,
        redis_ok=redis_ok,
        error=error,
        saved=request.args.get("saved"),
        moment=now(),
    ), status


@bp.get("/queue")
@staff_route(Role.STATE_ADMIN)
def queue_view() -> Any:
    """People waiting, active users, admissions per minute, time to clear, inventory, controls."""
    return _page()


@bp.post("/queue")
@staff_route(Role.STATE_ADMIN)
def queue_update() -> Any:
    """Change the waiting room's settings live; every process follows within seconds."""
    changes = {k: request.form.get(k, "").strip() for k in EDITABLE if k in request.form}
    try:
        before = get_queue().settings().to_redis()
        get_queue().update_settings(**changes)
    except SettingsError as exc:
        return _page(str(exc), 422, values=changes)
    except RedisError:
        return _page(N_("The queue's Redis is unreachable; nothing was changed."), 503)
    changed = {
        k: {"from": before.get(k), "to": v} for k, v in changes.items() if before.get(k) != v
    }

    def record(_s: Any) -> None:
        audit("queue.settings", record_type="queue", record_id="settings", detail=changed)

    db.transaction(record)
    return redirect(url_for("admin.queue_view", saved=1), code=303)


@bp.post("/queue/revoke")
@staff_route(Role.STATE_ADMIN)
def queue_revoke() -> Any:
    """Revoke a ticket: its admission token stops working at once."""
    ticket = request.form.get("ticket", "").strip()[:64]
    try:
        found = bool(ticket) and get_queue().revoke(ticket)
    except RedisError:
        return _page(N_("The queue's Redis is unreachable; nothing was changed."), 503)
    if not found:
        return _page(N_("No ticket with that id."), 404)
    db.transaction(
        lambda _s: audit("queue.revoke_ticket", record_type="queue_ticket", record_id=ticket)
    )
    return redirect(url_for("admin.queue_view", saved=1), code=303)
