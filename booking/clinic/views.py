"""Clinic console views. Every route names its clinic in the URL, so the central access check
refuses other clinics' staff; records (slots, reservations) are checked to belong to it."""

from __future__ import annotations

import csv
import io
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from booking.clinic import bp
from booking.clock import now
from booking.db import db
from booking.models import Clinic, Slot
from booking.services import closures, inventory, schedule
from booking.services.errors import DomainError, InvalidInput
from booking.services.validation import parse_date, parse_int
from booking.staff.access import audit, current_staff, staff_clinics, staff_route
from booking.staff.models import Role

ALL = (Role.CLINIC_STAFF, Role.CLINIC_MANAGER, Role.STATE_ADMIN)
MANAGERS = (Role.CLINIC_MANAGER, Role.STATE_ADMIN)
ID = "int(max=2147483647)"


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return clinic


def _today(clinic: Clinic) -> date:
    return now().astimezone(ZoneInfo(clinic.timezone)).date()


def _day(clinic: Clinic, raw: str | None) -> date:
    try:
        day = parse_date(raw) if raw else _today(clinic)
    except InvalidInput:
        day = _today(clinic)
    return day if abs((day - _today(clinic)).days) < 3660 else _today(clinic)


@bp.get("/")
@staff_route(*ALL)
def index() -> Any:
    """The clinics this person works for (admins: all)."""
    user = current_staff()
    query = select(Clinic).order_by(Clinic.name)
    if user is not None and user.role != Role.STATE_ADMIN:
        query = query.where(Clinic.id.in_(staff_clinics()))
    return render_template("clinic/index.html", clinics=db.session.scalars(query).all())


@bp.get(f"/<{ID}:clinic_id>/roster")
@staff_route(*ALL)
def roster(clinic_id: int) -> Any:
    """The day's residents, with search, check-in and no-show."""
    clinic = _clinic(clinic_id)
    day = _day(clinic, request.args.get("date"))
    query = request.args.get("q", "")[:100]
    rows = schedule.roster(db.session, clinic, day, query=query)
    audit(
        "clinic.view_roster",
        record_type="clinic",
        record_id=clinic_id,
        clinic_id=clinic_id,
        detail={"day": day.isoformat(), "query": query, "residents": len(rows)},
    )
    db.session.commit()  # the view of residents' details is itself recorded
    slots = inventory.slots_for_day(db.session, clinic, day, now=now() - timedelta(days=3660))
    return render_template(
        "clinic/roster.html",
        clinic=clinic,
        day=day,
        rows=rows,
        query=query,
        slots=slots,
        error=request.args.get("error"),
        is_manager=current_staff().role in MANAGERS,  # type: ignore[union-attr]
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
    )


@bp.post(f"/<{ID}:clinic_id>/reservations/<{ID}:reservation_id>/attendance")
@staff_route(*ALL)
def attendance(clinic_id: int, reservation_id: int) -> Any:
    """Check in, or mark a no-show."""
    status = request.form.get("status", "")

    def work(s: Any) -> None:
        schedule.mark_attendance(s, clinic_id, reservation_id, status, now=now())
        audit(
            f"clinic.{status}",
            record_type="reservation",
            record_id=reservation_id,
            clinic_id=clinic_id,
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        return redirect(url_for("clinic.roster", clinic_id=clinic_id, error=exc.detail), 303)
    back = request.form.get("date") or ""
    return redirect(url_for("clinic.roster", clinic_id=clinic_id, date=back[:10] or None), 303)


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas: keep them plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get(f"/<{ID}:clinic_id>/export.csv")
@staff_route(*ALL)
def export(clinic_id: int) -> Any:
    """The roster of a day or a range (at most 31 days) as CSV."""
    clinic = _clinic(clinic_id)
    first = _day(clinic, request.args.get("from"))
    last = max(first, _day(clinic, request.args.get("to") or first.isoformat()))
    last = min(last, first + timedelta(days=30))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "date",
            "time",
            "service",
            "code",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "email",
            "status",
            "channel",
        ]
    )
    count = 0
    day = first
    tz = ZoneInfo(clinic.timezone)
    while day <= last:
        for reservation, slot in schedule.roster(db.session, clinic, day):
            local = slot.starts_at.astimezone(tz)
            writer.writerow(
                [
                    _csv_cell(v)
                    for v in (
                        local.date().isoformat(),
                        local.strftime("%H:%M"),
                        slot.service,
                        reservation.confirmation_code,
                        reservation.first_name,
                        reservation.last_name,
                        reservation.date_of_birth,
                        reservation.phone,
                        reservation.email,
                        reservation.status,
                        reservation.channel,
                    )
                ]
            )
            count += 1
        day += timedelta(days=1)
    audit(
        "clinic.export_csv",
        record_type="clinic",
        record_id=clinic_id,
        clinic_id=clinic_id,
        detail={"from": first.isoformat(), "to": last.isoformat(), "rows": count},
    )
    db.session.commit()
    name = f"roster-{clinic.key}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _parse_plan(clinic: Clinic, form: Any) -> schedule.SchedulePlan:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field in ("first", "last"):
        try:
            values[field] = parse_date(form.get(field), field=field)
        except InvalidInput as exc:
            errors.update(exc.errors)
    for field in ("opens", "closes"):
        raw = form.get(field, "")
        try:
            values[field] = time.fromisoformat(raw) if len(raw) <= 8 else None
        except ValueError:
            values[field] = None
        if values[field] is None:
            errors[field] = "Enter a time like 09:00."
    for field, low, high in (("slot_minutes", 5, 240), ("capacity", 1, 1000)):
        try:
            values[field] = parse_int(form.get(field), field=field, low=low, high=high)
        except InvalidInput as exc:
            errors.update(exc.errors)
    weekdays = {int(d) for d in form.getlist("weekdays") if d in "0123456"}
    if errors:
        raise InvalidInput("Please correct the schedule.", errors=errors)
    return schedule.plan_schedule(
        clinic, weekdays=weekdays, service=form.get("service", ""), **values
    )


@bp.route(f"/<{ID}:clinic_id>/schedule", methods=["GET", "POST"])
@staff_route(*MANAGERS)
def bulk_schedule(clinic_id: int) -> Any:
    """Bulk creation: preview first, then create only what is missing."""
    clinic = _clinic(clinic_id)
    context: dict[str, Any] = {
        "clinic": clinic,
        "errors": {},
        "values": request.form,
        "services": inventory.SERVICES,
    }
    if request.method == "GET":
        start = _today(clinic) + timedelta(days=1)
        context["values"] = {
            "first": start.isoformat(),
            "last": (start + timedelta(days=6)).isoformat(),
            "opens": "09:00",
            "closes": "17:00",
            "slot_minutes": "15",
            "capacity": "4",
        }
        return render_template("clinic/schedule.html", **context)
    try:
        plan = _parse_plan(clinic, request.form)
    except InvalidInput as exc:
        context["errors"] = exc.errors
        return render_template("clinic/schedule.html", **context), 422
    missing = schedule.missing_windows(db.session, clinic, plan)
    if request.form.get("action") != "create":
        context.update(
            preview=True,
            planned=len(plan.windows),
            missing=len(missing),
            sample=missing[:12],
            tz=clinic.timezone,
        )
        return render_template("clinic/schedule.html", **context)

    def work(s: Any) -> int:
        created = schedule.create_schedule(s, clinic, plan, now=now())
        audit(
            "clinic.bulk_schedule",
            record_type="clinic",
            record_id=clinic_id,
            clinic_id=clinic_id,
            detail={"planned": len(plan.windows), "created": created, "service": plan.service},
        )
        return created

    context["created"] = db.transaction(work)
    context["planned"] = len(plan.windows)
    return render_template("clinic/schedule.html", **context)


@bp.post(f"/<{ID}:clinic_id>/slots/<{ID}:slot_id>/capacity")
@staff_route(*MANAGERS)
def capacity(clinic_id: int, slot_id: int) -> Any:
    """Edit one slot's capacity (never below what is held or booked)."""
    slot = db.session.get(Slot, slot_id)
    if slot is None or slot.clinic_id != clinic_id:
        abort(404)
    day = slot.starts_at.astimezone(ZoneInfo(_clinic(clinic_id).timezone)).date().isoformat()
    raw = request.form.get("capacity")

    def work(s: Any) -> None:
        value = parse_int(raw, field="capacity", low=0, high=1000)
        schedule.set_capacity(s, clinic_id, slot_id, value)
        audit(
            "clinic.capacity",
            record_type="slot",
            record_id=slot_id,
            clinic_id=clinic_id,
            detail={"capacity": value},
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        message = next(iter(exc.errors.values()), exc.detail)
        return redirect(url_for("clinic.roster", clinic_id=clinic_id, date=day, error=message), 303)
    return redirect(url_for("clinic.roster", clinic_id=clinic_id, date=day), 303)


@bp.post(f"/<{ID}:clinic_id>/close")
@staff_route(*MANAGERS)
def close(clinic_id: int) -> Any:
    """Close one slot or a whole day: its bookings are cancelled and every resident told."""
    clinic = _clinic(clinic_id)
    reason = request.form.get("reason", "").strip()[:200] or None
    slot_raw = request.form.get("slot_id", "")
    day = _day(clinic, request.form.get("date"))

    def work(s: Any) -> closures.ClosureReport:
        if slot_raw:
            slot = s.get(Slot, parse_int(slot_raw, field="slot_id", low=1, high=2**31 - 1))
            if slot is None or slot.clinic_id != clinic_id:
                abort(404)
            report = closures.cancel_slots(s, [slot.id], now=now(), reason=reason)
        else:
            report = closures.cancel_clinic_day(s, clinic_id, day, now=now(), reason=reason)
        audit(
            "clinic.close",
            record_type="clinic",
            record_id=clinic_id,
            clinic_id=clinic_id,
            detail={
                "slot": slot_raw or None,
                "day": day.isoformat(),
                "reason": reason,
                "cancelled": report.bookings_cancelled,
            },
        )
        return report

    try:
        db.transaction(work)
    except InvalidInput as exc:
        return redirect(
            url_for("clinic.roster", clinic_id=clinic_id, date=day.isoformat(), error=exc.detail),
            303,
        )
    return redirect(url_for("clinic.roster", clinic_id=clinic_id, date=day.isoformat()), 303)
