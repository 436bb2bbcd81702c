"""State admins: clinics (create, edit, deactivate)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import Clinic, Role
from booking.services import clinics as clinic_service
from booking.services.errors import InvalidInput, NotFound
from booking.services.geo import county_of
from booking.services.inventory import SERVICES
from booking.web.access import audit, staff_route

FIELDS = (
    "name",
    "address_line",
    "city",
    "state",
    "postal_code",
    "latitude",
    "longitude",
    "phone",
    "vtrcks_pin",
    "timezone",
)


def _form_values() -> dict[str, Any]:
    values: dict[str, Any] = {k: request.form.get(k, "") for k in FIELDS}
    values["services"] = request.form.getlist("services")
    return values


def _form(clinic: Clinic | None, values: Any, errors: dict[str, str], status: int = 200) -> Any:
    zip_code = str(values.get("postal_code") or "")
    county = county_of(zip_code) if len(zip_code) == 5 and "postal_code" not in errors else None
    return render_template(
        "admin/clinic_form.html",
        clinic=clinic,
        values=values,
        errors=errors,
        services=SERVICES,
        county=county,
    ), status


@bp.get("/clinics")
@staff_route(Role.STATE_ADMIN)
def clinics() -> Any:
    """Every clinic, active or not."""
    rows = db.session.query(Clinic).order_by(Clinic.active.desc(), Clinic.name).all()
    return render_template("admin/clinics.html", clinics=rows)


@bp.route("/clinics/new", methods=["GET", "POST"])
@staff_route(Role.STATE_ADMIN)
def clinic_new() -> Any:
    """Add a clinic."""
    if request.method == "GET":
        return _form(None, {"state": "MA", "timezone": "America/New_York"}, {})
    values = _form_values()

    def work(s: Any) -> Clinic:
        clinic = clinic_service.create_clinic(s, values, now=now())
        audit("clinic.create", record_type="clinic", record_id=clinic.id, clinic_id=clinic.id)
        return clinic

    try:
        db.transaction(work)
    except InvalidInput as exc:
        return _form(None, values, exc.errors, 422)
    return redirect(url_for("admin.clinics"), code=303)


@bp.route("/clinics/<int(max=2147483647):clinic_id>/edit", methods=["GET", "POST"])
@staff_route(Role.STATE_ADMIN)
def clinic_edit(clinic_id: int) -> Any:
    """Edit a clinic, or deactivate and reactivate it."""
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    if request.method == "GET":
        values = {k: getattr(clinic, k) or "" for k in FIELDS}
        values["services"] = clinic.services
        return _form(clinic, values, {})
    action = request.form.get("action", "save")
    values = _form_values()

    def work(s: Any) -> None:
        if action in ("deactivate", "activate"):
            clinic_service.set_active(s, clinic_id, action == "activate")
        else:
            clinic_service.update_clinic(s, clinic_id, values)
        audit(f"clinic.{action}", record_type="clinic", record_id=clinic_id, clinic_id=clinic_id)

    try:
        db.transaction(work)
    except InvalidInput as exc:
        return _form(clinic, values, exc.errors, 422)
    except NotFound:
        abort(404)
    return redirect(url_for("admin.clinics"), code=303)
