"""State admins: eligibility rules (phases) and the capacity set aside for phone bookings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import select

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.models import Clinic, EligibilityRule, Role, Slot
from booking.services.errors import InvalidInput
from booking.services.inventory import SERVICES, local_day_bounds
from booking.services.text import N_
from booking.services.validation import parse_date, parse_int
from booking.web.access import audit, staff_route

RULE_FIELDS = ("service", "phase", "min_age_years", "max_age_years", "effective_from")


def parse_rule(form: Any) -> dict[str, Any]:
    """Validate the new-rule form."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    values["service"] = form.get("service")
    if values["service"] not in SERVICES:
        errors["service"] = N_("Choose a vaccine.")
    values["phase"] = (form.get("phase") or "").strip()[:80]
    if not values["phase"]:
        errors["phase"] = N_("Name the phase, for example 'Phase 2: 65 and over'.")
    for field, required in (("min_age_years", True), ("max_age_years", False)):
        raw = form.get(field) or ""
        if not raw and not required:
            values[field] = None
            continue
        try:
            values[field] = parse_int(raw, field=field, low=0, high=130)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if (
        values.get("max_age_years") is not None
        and values.get("min_age_years") is not None
        and values["max_age_years"] < values["min_age_years"]
    ):
        errors["max_age_years"] = N_("The upper age must not be below the lower one.")
    try:
        values["effective_from"] = parse_date(form.get("effective_from"), field="effective_from")
    except InvalidInput as exc:
        errors.update(exc.errors)
    values["requires_condition"] = form.get("requires_condition") == "yes"
    values["state_residents_only"] = form.get("state_residents_only", "yes") == "yes"
    if errors:
        raise InvalidInput(N_("Please correct the rule."), errors=errors)
    return values


def _page(values: Any, errors: dict[str, str], status: int = 200) -> Any:
    rules = db.session.scalars(
        select(EligibilityRule).order_by(EligibilityRule.service, EligibilityRule.effective_from)
    ).all()
    return render_template(
        "admin/eligibility.html", rules=rules, values=values, errors=errors, services=SERVICES
    ), status


@bp.route("/eligibility", methods=["GET", "POST"])
@staff_route(Role.STATE_ADMIN)
def eligibility() -> Any:
    """The rules in force and planned; the form adds one."""
    if request.method == "GET":
        return _page({}, {})
    try:
        values = parse_rule(request.form)
    except InvalidInput as exc:
        return _page(request.form, exc.errors, 422)

    def work(s: Any) -> None:
        rule = EligibilityRule(active=True, created_at=now(), **values)
        s.add(rule)
        s.flush()
        audit(
            "eligibility.create",
            record_type="eligibility_rule",
            record_id=rule.id,
            detail={k: str(v) for k, v in values.items()},
        )

    db.transaction(work)
    return redirect(url_for("admin.eligibility"), code=303)


@bp.post("/eligibility/<int(max=2147483647):rule_id>/deactivate")
@staff_route(Role.STATE_ADMIN)
def eligibility_deactivate(rule_id: int) -> Any:
    """Retire a rule."""

    def work(s: Any) -> None:
        rule = s.get(EligibilityRule, rule_id)
        if rule is None:
            abort(404)
        rule.active = False
        audit("eligibility.deactivate", record_type="eligibility_rule", record_id=rule_id)

    db.transaction(work)
    return redirect(url_for("admin.eligibility"), code=303)


def set_aside(form: Any, clinic: Clinic) -> int:
    """Reserve a share of a day's capacity for phone bookings until hours before each slot."""
    errors: dict[str, str] = {}
    try:
        day = parse_date(form.get("day"), field="day")
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        percent = parse_int(form.get("percent"), field="percent", low=0, high=100)
        hours = parse_int(form.get("cutoff_hours"), field="cutoff_hours", low=0, high=24 * 14)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidInput(N_("Please correct the set-aside."), errors=errors)
    start, end = local_day_bounds(day, clinic.timezone)
    slots = db.session.scalars(
        select(Slot)
        .where(Slot.clinic_id == clinic.id, Slot.starts_at >= start, Slot.starts_at < end)
        .with_for_update()
    ).all()
    for slot in slots:
        slot.phone_reserved = slot.capacity * percent // 100
        slot.phone_release_at = slot.starts_at - timedelta(hours=hours)
    audit(
        "clinic.phone_set_aside",
        record_type="clinic",
        record_id=clinic.id,
        clinic_id=clinic.id,
        detail={
            "day": day.isoformat(),
            "percent": percent,
            "cutoff_hours": hours,
            "slots": len(slots),
        },
    )
    return len(slots)


@bp.post("/clinics/<int(max=2147483647):clinic_id>/set-aside")
@staff_route(Role.STATE_ADMIN, Role.CLINIC_MANAGER)
def clinic_set_aside(clinic_id: int) -> Any:
    """Set aside part of a day's capacity for 2-1-1 phone bookings (admins and managers)."""
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    try:
        count = db.transaction(lambda _s: set_aside(request.form, clinic))
    except InvalidInput as exc:
        return render_template(
            "admin/set_aside.html", clinic=clinic, errors=exc.errors, values=request.form
        ), 422
    return render_template(
        "admin/set_aside.html", clinic=clinic, errors={}, values=request.form, done=count
    )


@bp.get("/clinics/<int(max=2147483647):clinic_id>/set-aside")
@staff_route(Role.STATE_ADMIN, Role.CLINIC_MANAGER)
def clinic_set_aside_form(clinic_id: int) -> Any:
    """The set-aside form."""
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return render_template(
        "admin/set_aside.html",
        clinic=clinic,
        errors={},
        values={"percent": "20", "cutoff_hours": "24"},
    )
