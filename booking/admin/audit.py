"""State admins: the audit log, searched by who, what, which record and when."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from booking.admin import bp
from booking.db import db
from booking.models import Role
from booking.services import audit_log as audit_service
from booking.services.errors import InvalidInput
from booking.services.validation import parse_date
from booking.web.access import staff_route

FILTERS = ("actor", "action", "record_type", "record_id", "from", "to")


@bp.get("/audit")
@staff_route(Role.STATE_ADMIN)
def audit_log() -> Any:
    """Search the audit log; every filter stays in the form and in the page links."""
    args = {name: (request.args.get(name) or "").strip()[:254] for name in FILTERS}
    errors: dict[str, str] = {}
    days = {}
    for name in ("from", "to"):
        if args[name]:
            try:
                days[name] = parse_date(args[name], field=name)
            except InvalidInput as exc:
                errors.update(exc.errors)
    filters = audit_service.AuditFilters(
        actor=args["actor"],
        action=args["action"],
        record_type=args["record_type"],
        record_id=args["record_id"],
        day_from=days.get("from"),
        day_to=days.get("to"),
    )
    raw_page = request.args.get("page") or ""
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 else 1
    rows, more = audit_service.search(db.session, filters, page=page)
    return render_template(
        "admin/audit.html",
        rows=rows,
        more=more,
        page=page,
        args=args,
        kept={k: v for k, v in args.items() if v},
        errors=errors,
        detail_lines=audit_service.detail_lines,
    ), (422 if errors else 200)
