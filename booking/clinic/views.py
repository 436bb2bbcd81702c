"""Clinic console views.

Every route names its clinic in the URL, so the central access check (booking.web.access)
refuses other clinics' staff with a 404 before a view runs; the services check that each slot
or reservation id belongs to that clinic. Every view of residents' details and every change is
audited in the same transaction as the work.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.clinic import bp, forms
from booking.clock import now
from booking.db import db
from booking.i18n import status_label, translate
from booking.messages.policy import notice_policy_from_config
from booking.models import Clinic, ReservationStatus, Role, Slot, VaccineProduct
from booking.services import dose_two, inventory, products, schedule
from booking.services.errors import DomainError, InvalidInput
from booking.services.text import N_
from booking.web import formats
from booking.web.access import audit, current_staff, staff_clinics, staff_route

ALL = (Role.CLINIC_STAFF, Role.CLINIC_MANAGER, Role.STATE_ADMIN)
MANAGERS = (Role.CLINIC_MANAGER, Role.STATE_ADMIN)
ID = "int(max=2147483647)"
# Confirmations shown after a redirect: fixed texts, so a crafted link cannot put words on it.
DONE = {
    "checked_in": N_("Checked in."),
    "no_show": N_("Marked as a no-show."),
    "confirmed": N_("Undone: the resident is booked again."),
    "capacity": N_("Capacity saved."),
    "closed": N_("Closed. Everyone booked in it was cancelled and is being told."),
}
# The columns stay as they were; "service" holds the vaccine in words in the reader's language
# ("COVID-19 vaccine (Moderna)"), as the roster shows it; the code, phone and status as the page
# writes them ("ABCD-2345", "(617) 555-0111", "Booked").
CSV_COLUMNS = (
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
)


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return clinic


def _is_manager() -> bool:
    user = current_staff()
    return user is not None and user.role in MANAGERS


def _today(clinic: Clinic) -> date:
    return schedule.clinic_today(clinic, now())


def _day_or_today(clinic: Clinic, raw: object) -> date:
    # Only for choosing which page to show next to an error that is reported anyway.
    try:
        return forms.day_value(raw, today=_today(clinic))
    except InvalidInput:
        return _today(clinic)


def _error_text(exc: DomainError) -> list[str]:
    return list(exc.errors.values()) or [exc.detail]


def _roster_page(
    clinic: Clinic,
    day: date,
    *,
    query: str = "",
    errors: list[str] | None = None,
    status: int = 200,
) -> Any:
    """Show a day's roster. It shows residents' details, so each showing is audited."""
    manager = _is_manager()

    def work(s: Session) -> tuple[list[Any], list[Slot]]:
        rows = schedule.roster(s, clinic, day, query=query)
        slots = schedule.day_slots(s, clinic, day) if manager else []
        audit(
            "clinic.view_roster",
            record_type="clinic",
            record_id=clinic.id,
            clinic_id=clinic.id,
            detail={"day": day.isoformat(), "query": query, "residents": len(rows)},
        )
        return rows, slots

    rows, slots = db.transaction(work)
    page = render_template(
        "clinic/roster.html",
        clinic=clinic,
        day=day,
        today=_today(clinic),
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
        rows=rows,
        query=query,
        slots=slots,
        errors=errors or [],
        done=DONE.get(request.args.get("done", "")) if request.method == "GET" else None,
        is_manager=manager,
        moment=now(),
    )
    return page, status


def _my_clinics() -> list[Clinic]:
    query = select(Clinic).order_by(Clinic.name)
    user = current_staff()
    if user is None or user.role != Role.STATE_ADMIN:
        query = query.where(Clinic.id.in_(staff_clinics()))
    return list(db.session.scalars(query))


@bp.app_context_processor
def _console_clinics() -> dict[str, Any]:
    # The staff home page lists the clinics whose consoles the signed-in person may open.
    return {"console_clinics": _my_clinics}


@bp.get("/")
@staff_route(*ALL)
def index() -> Any:
    """The clinics this person works at (state admins: all of them)."""
    return render_template("clinic/index.html", clinics=_my_clinics())


@bp.get(f"/<{ID}:clinic_id>/roster")
@staff_route(*ALL)
def roster(clinic_id: int) -> Any:
    """The day's residents, with search, check-in and no-show."""
    clinic = _clinic(clinic_id)
    query = request.args.get("q", "").strip()[:100]
    try:
        day = forms.day_value(request.args.get("date"), today=_today(clinic))
    except InvalidInput as exc:
        return _roster_page(
            clinic, _today(clinic), query=query, errors=_error_text(exc), status=422
        )
    return _roster_page(clinic, day, query=query)


@bp.post(f"/<{ID}:clinic_id>/reservations/<{ID}:reservation_id>/attendance")
@staff_route(*ALL)
def attendance(clinic_id: int, reservation_id: int) -> Any:
    """Check a resident in, or mark a no-show."""
    clinic = _clinic(clinic_id)
    status = request.form.get("status", "")
    day = _day_or_today(clinic, request.form.get("date"))

    def work(s: Session) -> None:
        before = schedule.mark_attendance(s, clinic_id, reservation_id, status, now=now())
        undone = status == ReservationStatus.CONFIRMED.value
        audit(
            "clinic.attendance_undone" if undone else f"clinic.{status}",
            record_type="reservation",
            record_id=reservation_id,
            clinic_id=clinic_id,
            detail={"from": before, "to": status},
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        return _roster_page(clinic, day, errors=_error_text(exc), status=exc.status)
    return redirect(
        url_for("clinic.roster", clinic_id=clinic_id, date=day.isoformat(), done=status), 303
    )


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run a cell starting with one of these as a formula: keep it plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get(f"/<{ID}:clinic_id>/export.csv")
@staff_route(*ALL)
def export(clinic_id: int) -> Any:
    """The residents booked on a day or a range of days (at most 31), as CSV."""
    clinic = _clinic(clinic_id)
    try:
        first, last = forms.export_range(request.args, today=_today(clinic))
    except InvalidInput as exc:
        day = _day_or_today(clinic, request.args.get("from"))
        return _roster_page(clinic, day, errors=_error_text(exc), status=422)

    def work(s: Session) -> list[Any]:
        rows = schedule.roster(s, clinic, first, last)
        audit(
            "clinic.export_csv",
            record_type="clinic",
            record_id=clinic_id,
            clinic_id=clinic_id,
            detail={"from": first.isoformat(), "to": last.isoformat(), "rows": len(rows)},
        )
        return rows

    rows = db.transaction(work)
    tz = ZoneInfo(clinic.timezone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for reservation, slot in rows:
        local = slot.starts_at.astimezone(tz)
        values = (
            local.date().isoformat(),
            local.strftime("%H:%M"),
            translate(
                products.describe_reservation(products.slot_product(db.session, slot), reservation)
            ),
            formats.code(reservation.confirmation_code),
            reservation.first_name,
            reservation.last_name,
            reservation.date_of_birth,
            formats.phone(reservation.phone),
            reservation.email,
            status_label(reservation.status),
            reservation.channel,
        )
        writer.writerow([_csv_cell(v) for v in values])
    name = f"roster-{clinic.id}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route(f"/<{ID}:clinic_id>/schedule", methods=["GET", "POST"])
@staff_route(*MANAGERS)
def bulk_schedule(clinic_id: int) -> Any:
    """Bulk creation: preview what is missing, then create only that."""
    clinic = _clinic(clinic_id)
    context: dict[str, Any] = {
        "clinic": clinic,
        "errors": {},
        "values": request.form,
        "services": inventory.SERVICES,
        "products": products.list_products(db.session, services=clinic.services, active_only=True),
        "describe": products.describe,
        "dose_two": dose_two.outlook(
            db.session, clinic, now=now(), booking_days=current_app.config["BOOKING_DAYS"]
        ),
    }
    if request.method == "GET":
        start = _today(clinic)
        defaults = products.DEFAULT_PRODUCT_KEYS.values()
        chosen = next((p.id for p in context["products"] if p.key in defaults), "")
        context["values"] = {
            "product_id": str(chosen),
            "first": start.isoformat(),
            "last": (start + timedelta(days=6)).isoformat(),
            "opens": "9:00 AM",
            "closes": "5:00 PM",
            "slot_minutes": "15",
            # As many people as the clinic's slots usually take, not a guess.
            "capacity": str(schedule.usual_capacity(db.session, clinic) or 4),
        }
        return render_template("clinic/schedule.html", **context)
    try:
        values = forms.schedule_values(request.form)
        product_id = values.pop("product_id")
        product = db.session.get(VaccineProduct, product_id) if product_id else None
        plan = schedule.plan_schedule(clinic, now=now(), product=product, **values)
    except InvalidInput as exc:
        context["errors"] = exc.errors
        return render_template("clinic/schedule.html", **context), 422
    if request.form.get("action") != "create":
        missing = schedule.missing_windows(db.session, clinic, plan)
        horizon = _today(clinic) + timedelta(days=current_app.config["BOOKING_DAYS"] - 1)
        context.update(
            preview=True,
            planned=len(plan.windows),
            missing=len(missing),
            by_day=schedule.days_of(clinic, missing),
            horizon=horizon,
            beyond=values["last"] > horizon,
        )
        return render_template("clinic/schedule.html", **context)

    def work(s: Session) -> int:
        created = schedule.create_schedule(s, clinic, plan, now=now())
        audit(
            "clinic.bulk_schedule",
            record_type="clinic",
            record_id=clinic_id,
            clinic_id=clinic_id,
            detail={
                "service": plan.service,
                "product_id": schedule.plan_product_id(s, plan),
                "first": request.form.get("first"),
                "last": request.form.get("last"),
                "planned": len(plan.windows),
                "created": created,
            },
        )
        return created

    context.update(created=db.transaction(work), planned=len(plan.windows))
    return render_template("clinic/schedule.html", **context)


@bp.post(f"/<{ID}:clinic_id>/slots/<{ID}:slot_id>/capacity")
@staff_route(*MANAGERS)
def capacity(clinic_id: int, slot_id: int) -> Any:
    """Change one slot's capacity (never below what is held or booked)."""
    clinic = _clinic(clinic_id)
    slot = db.session.get(Slot, slot_id)
    if slot is None or slot.clinic_id != clinic_id:
        abort(404)
    day = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()

    def work(s: Session) -> None:
        value = forms.capacity_value(request.form.get("capacity"))
        previous = schedule.set_capacity(s, clinic_id, slot_id, value)
        audit(
            "clinic.capacity",
            record_type="slot",
            record_id=slot_id,
            clinic_id=clinic_id,
            detail={"from": previous, "to": value},
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        return _roster_page(clinic, day, errors=_error_text(exc), status=exc.status)
    return redirect(
        url_for("clinic.roster", clinic_id=clinic_id, date=day.isoformat(), done="capacity"), 303
    )


@bp.post(f"/<{ID}:clinic_id>/close")
@staff_route(*MANAGERS)
def close(clinic_id: int) -> Any:
    """Close one slot or the rest of a day: bookings are cancelled and each resident told."""
    clinic = _clinic(clinic_id)
    day = _day_or_today(clinic, request.form.get("date"))
    slot_raw = request.form.get("slot_id")
    notices = notice_policy_from_config(current_app.config)

    def work(s: Session) -> None:
        reason = forms.reason_value(request.form.get("reason"))
        if slot_raw is not None:
            slot_id = forms.id_value(slot_raw, field="slot_id")
            report = schedule.close_slot(
                s, clinic_id, slot_id, now=now(), reason=reason, notices=notices
            )
            target: dict[str, Any] = {"slot_id": slot_id}
        else:
            closing = forms.day_value(request.form.get("date"), today=_today(clinic))
            report = schedule.close_day(
                s, clinic, closing, now=now(), reason=reason, notices=notices
            )
            target = {"day": closing.isoformat()}
        audit(
            "clinic.close",
            record_type="slot" if slot_raw is not None else "clinic",
            record_id=target.get("slot_id", clinic_id),
            clinic_id=clinic_id,
            detail={
                **target,
                "reason": reason,
                "slots_closed": report.slots_closed,
                "bookings_cancelled": report.bookings_cancelled,
                "holds_released": report.holds_released,
            },
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        return _roster_page(clinic, day, errors=_error_text(exc), status=exc.status)
    return redirect(
        url_for("clinic.roster", clinic_id=clinic_id, date=day.isoformat(), done="closed"), 303
    )
