"""State admins: staff accounts (create, deactivate, unlock, reset the second factor)."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import select

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import Clinic, Role, StaffClinic, StaffUser
from booking.services import staff as staff_service
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.web.access import audit, current_staff, staff_route

PAGE = 50
_ID_RE = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)


def _accounts_page(values: Any, errors: dict[str, str], status: int = 200) -> Any:
    users = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    memberships: dict[int, list[int]] = {}
    for link in db.session.scalars(select(StaffClinic)):
        memberships.setdefault(link.user_id, []).append(link.clinic_id)
    clinics = db.session.scalars(select(Clinic).order_by(Clinic.name)).all()
    return render_template(
        "admin/accounts.html",
        users=users,
        memberships=memberships,
        clinics=clinics,
        clinic_names={c.id: c.name for c in clinics},
        roles=[r.value for r in Role],
        values=values,
        errors=errors,
        moment=now(),
    ), status


@bp.route("/accounts", methods=["GET", "POST"])
@staff_route(Role.STATE_ADMIN)
def accounts() -> Any:
    """Staff accounts; the form adds one."""
    if request.method == "GET":
        return _accounts_page({}, {})
    values = {k: request.form.get(k, "") for k in ("email", "display_name", "role", "password")}
    raw_ids = request.form.getlist("clinic_ids")
    if not all(_ID_RE.fullmatch(c) for c in raw_ids):
        values.pop("password")
        return _accounts_page(values, {"clinic_ids": N_("Choose clinics from the list.")}, 422)
    clinic_ids = tuple(int(c) for c in raw_ids)  # the service refuses ids of no clinic

    def work(s: Any) -> StaffUser:
        user = staff_service.create_user(
            s,
            email=values["email"],
            display_name=values["display_name"],
            role=values["role"],
            password=values["password"],
            now=now(),
            clinic_ids=clinic_ids,
        )
        audit(
            "staff.create",
            record_type="staff_user",
            record_id=user.id,
            detail={"role": user.role, "clinics": list(clinic_ids)},
        )
        return user

    try:
        db.transaction(work)
    except InvalidInput as exc:
        values.pop("password")
        return _accounts_page(values, exc.errors, 422)
    return redirect(url_for("admin.accounts"), code=303)


@bp.post("/accounts/<int(max=2147483647):user_id>")
@staff_route(Role.STATE_ADMIN)
def account_action(user_id: int) -> Any:
    """Deactivate, reactivate, unlock, or reset the second factor of an account."""
    action = request.form.get("action", "")
    if action not in ("deactivate", "activate", "unlock", "reset_totp"):
        abort(400)
    me = current_staff()
    if me is not None and me.id == user_id and action == "deactivate":
        return _accounts_page({}, {"form": N_("You cannot deactivate your own account.")}, 409)

    def work(s: Any) -> None:
        user = s.get(StaffUser, user_id)
        if user is None:
            abort(404)
        if action in ("deactivate", "activate"):
            user.active = action == "activate"
        elif action == "unlock":
            user.locked_until = None
            user.failed_logins = 0
        else:
            user.totp_secret = None  # enrols again at next sign-in
            user.totp_last_step = None
        user.updated_at = now()
        audit(f"staff.{action}", record_type="staff_user", record_id=user_id)

    db.transaction(work)
    return redirect(url_for("admin.accounts"), code=303)
