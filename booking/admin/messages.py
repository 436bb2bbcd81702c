"""State admins: messages to residents, queued, failed and sent, and retrying a failed one."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import MessageStatus, Role
from booking.services import outbox
from booking.services.errors import DomainError
from booking.web.access import audit, staff_route

STATUSES = [s.value for s in MessageStatus]


def _page(error: str | None = None, status_code: int = 200) -> Any:
    wanted = request.args.get("status") or ""
    statuses = (wanted,) if wanted in STATUSES else None
    raw_before = request.args.get("before") or ""
    before = int(raw_before) if raw_before.isdigit() and len(raw_before) < 10 else None
    rows = outbox.list_messages(db.session, statuses=statuses, limit=51, before_id=before)
    audit("messages.view", record_type="outbox_message", detail={"status": wanted or "all"})
    db.session.commit()  # the view of residents' contact details is itself recorded
    return render_template(
        "admin/messages.html",
        messages=rows[:50],
        more=rows[50].id + 1 if len(rows) > 50 else None,
        statuses=STATUSES,
        wanted=wanted,
        error=error,
        retried=request.args.get("retried"),
    ), status_code


@bp.get("/messages")
@staff_route(Role.STATE_ADMIN)
def messages() -> Any:
    """Messages newest first, filtered by state."""
    return _page()


@bp.post("/messages/<int(max=2147483647):message_id>/retry")
@staff_route(Role.STATE_ADMIN)
def message_retry(message_id: int) -> Any:
    """Queue a failed message again with a fresh set of attempts."""

    def work(s: Any) -> None:
        outbox.retry_failed(s, message_id, now=now())
        audit("messages.retry", record_type="outbox_message", record_id=message_id)

    try:
        db.transaction(work)
    except DomainError as exc:
        return _page(exc.detail, exc.status)
    return redirect(url_for("admin.messages", status="failed", retried=message_id), code=303)
