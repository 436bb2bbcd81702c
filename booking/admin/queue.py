"""The waiting room's live view and controls, for state admins."""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, render_template, request, url_for
from redis.exceptions import RedisError

from admission.control import PIN_LIMIT, ControlView, Decision
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


# What the controller's last step did, as the pages say it.
DECISIONS: dict[str, str] = {
    Decision.START: N_("Starting from the configured rate; no step taken yet."),
    Decision.SLOW_START: N_(
        "Raised by a quarter: booking pages were fast and people were waiting (no slowdown yet)."
    ),
    Decision.PROBE: N_(
        "Raised a little: booking pages were fast and people were waiting, close to the rate "
        "where they last slowed down."
    ),
    Decision.CUT: N_(
        "Cut by 30 percent: too many booking requests were slower than the target or failed."
    ),
    Decision.RECOVERING: N_(
        "Held after a cut: booking pages are still slow, and the cut needs a few seconds to show."
    ),
    Decision.NO_DEMAND: N_("Held: nobody is waiting, so a higher rate would not let anyone in."),
    Decision.NO_TRAFFIC: N_(
        "Held: people are waiting but no booking request came in, so there is nothing to judge by."
    ),
    Decision.AT_BOUND: N_("Held at the configured maximum."),
    Decision.PINNED: N_("Pinned by an admin."),
}


@bp.app_template_global("admission_decision_words")
def decision_words(decision: str) -> str:
    """What the controller's last step did, for the reader."""
    return DECISIONS.get(str(decision), str(decision))


def control_view() -> ControlView | None:
    """The admission controller as admins see it, or None while Redis is unreachable."""
    try:
        queue = get_queue()
        if queue.control is None:
            return None
        return queue.control.view(queue.settings().admit_per_minute, now=now().timestamp())
    except RedisError:
        return None


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


def _page(
    error: str | None = None, status: int = 200, values: Any = None, rate_value: str = ""
) -> Any:
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
        control=control_view() if redis_ok else None,
        rate_value=rate_value,
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
        control = get_queue().control
        new_rate = changes.get("admit_per_minute", before.get("admit_per_minute"))
        if (
            control is not None
            and control.config.enabled
            and new_rate != before.get("admit_per_minute")
        ):
            control.restart()  # with autotune on, the setting is where the controller starts
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


@bp.post("/queue/rate")
@staff_route(Role.STATE_ADMIN)
def queue_rate() -> Any:
    """Pin the admission rate at a fixed value, or hand it back to the controller (audited)."""
    queue = get_queue()
    if queue.control is None or not queue.control.config.enabled:
        return _page(N_("Automatic tuning is off: set the rate in the controls below."), 409)
    action = request.form.get("action", "")
    detail: dict[str, Any] = {}
    try:
        if action == "pin":
            raw = request.form.get("rate", "").strip()
            if not re.fullmatch(r"[0-9]{1,7}", raw) or not 1 <= int(raw) <= PIN_LIMIT:
                error = N_(
                    "Give a whole number of admissions per minute, from 1 to %(most)s.",
                    most=f"{PIN_LIMIT:,}",
                )
                return _page(error, 422, rate_value=raw[:20])
            detail = {"from": control_view_rate(), "to": int(raw)}
            queue.control.pin(int(raw))
        elif action == "unpin":
            detail = {"pinned": control_view_rate()}
            queue.control.unpin()
        else:
            return _page(N_("Choose to pin the rate or to let the controller set it."), 422)
    except RedisError:
        return _page(N_("The queue's Redis is unreachable; nothing was changed."), 503)

    def record(_s: Any) -> None:
        audit(f"queue.rate_{action}", record_type="queue", record_id="rate", detail=detail)

    db.transaction(record)
    return redirect(url_for("admin.queue_view", saved=1), code=303)


def control_view_rate() -> int | None:
    """The admission rate in force now, for the audit record."""
    view = control_view()
    return view.rate if view is not None else None
