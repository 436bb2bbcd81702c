"""Finding a clinic and a time: the search form, results and a clinic's days and slots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, redirect, render_template, request, session, url_for

from booking.clock import now
from booking.db import db
from booking.resident import bp
from booking.services import courses, inventory, products, provider_search
from booking.services.errors import InvalidInput, NotFound
from booking.services.products import VaccineFilter
from booking.services.validation import parse_birth_date
from booking.web.search_args import (
    RADIUS_CHOICES,
    SEARCH_FIELDS,
    beyond_horizon,
    next_anywhere,
    parse_search,
    pick_day,
    run_provider_search,
    run_search,
)


def _form_context(**extra: Any) -> dict[str, Any]:
    return {"services": inventory.SERVICES, "radius_choices": RADIUS_CHOICES, **extra}


@bp.get("/")
def index() -> Any:
    """The start page: search by ZIP code."""
    return render_template("index.html", **_form_context(values={}, errors={}))


@bp.get("/search")
def search() -> Any:
    """Clinics near a ZIP code, or the form again with what to fix."""
    try:
        params = parse_search(request.args)
    except InvalidInput as exc:
        return (
            render_template("index.html", **_form_context(values=request.args, errors=exc.errors)),
            422,
        )
    results = run_search(params)
    elsewhere = run_provider_search(params)
    # Only the search's own fields go back into links: url_for must not see "_external" etc.
    values = {k: request.args[k] for k in SEARCH_FIELDS if request.args.get(k)}
    last_day = beyond_horizon(params)
    nothing_near = not any(r.available_slots for r in results)
    return render_template(
        "search.html",
        **_form_context(
            values=values,
            params=params,
            results=results,
            elsewhere=elsewhere,
            listed=provider_search.by_distance(results, elsewhere),
            last_day=last_day,
            wider=[m for m in RADIUS_CHOICES if m > params["radius_miles"]][:2],
            anywhere=next_anywhere(params) if nothing_near and last_day is None else None,
        ),
    )


def clinic_day_context(
    clinic_id: int, raw_day: str | None, service: str | None, product_id: int | None = None
) -> dict[str, Any]:
    """Everything a clinic page shows: its days with free counts and the chosen day's slots."""
    try:
        clinic = inventory.get_clinic(db.session, clinic_id)
    except NotFound:
        abort(404)
    if service not in inventory.SERVICES:
        service = None
    moment = now()
    days = inventory.clinic_days(
        db.session,
        clinic,
        now=moment,
        days=current_app.config["BOOKING_DAYS"],
        service=service,
        product_id=product_id,
    )
    day = pick_day(days, raw_day)
    slots = inventory.slots_for_day(
        db.session, clinic, day, now=moment, service=service, product_id=product_id
    )
    return {
        "clinic": clinic,
        "days": days,
        "day": day,
        "slots": slots,
        "moment": moment,
        "free": [slot for slot in slots if slot.available_online(moment) > 0],
        "service": service,
        "services": inventory.SERVICES,
        "today": moment.astimezone(ZoneInfo(clinic.timezone)).date(),
        "tomorrow": moment.astimezone(ZoneInfo(clinic.timezone)).date() + timedelta(days=1),
    }


def _vaccine_filter(args: Any) -> tuple[VaccineFilter, dict[str, str]]:
    """The clinic page's vaccine filter (``vaccine``; an older link's ``service`` still works)."""
    raw = args.get("vaccine")
    if raw is None:
        legacy = args.get("service")
        return VaccineFilter(service=legacy if legacy in inventory.SERVICES else None), {}
    try:
        return products.parse_vaccine_filter(db.session, raw), {}
    except InvalidInput as exc:
        return VaccineFilter(), exc.errors


def _filter_choices(context: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The filter's options: per service the clinic offers, "any" and then its products."""
    clinic = context["clinic"]
    offered = inventory.clinic_products(db.session, clinic, now=context["moment"])
    # Someone who had dose 1 elsewhere books "dose 2 only" of a two-dose product here.
    context["has_courses"] = any(courses.is_course(p) for p in offered)
    groups = []
    for code in inventory.SERVICES:
        mine = [p for p in offered if p.service == code]
        if code in (clinic.services or []) or mine:
            options = [(code, inventory.ANY_OF_SERVICE[code])]
            options += [(p.key, products.describe(p)) for p in mine]
            groups.append((inventory.SERVICES[code], options))
    return groups


def _clinic_page(clinic_id: int, args: Any, errors: dict[str, str], status: int = 200) -> Any:
    wanted, filter_errors = _vaccine_filter(args)
    context = clinic_day_context(
        clinic_id,
        args.get("date"),
        wanted.service,
        wanted.product.id if wanted.product else None,
    )
    context.update(
        vaccine_filter=wanted,
        vaccine_choices=_filter_choices(context),
        errors=filter_errors,
    )
    # A deep link (from an aggregator's listing) names one slot: offer it first if still free.
    chosen = args.get("slot", "")
    context["chosen"] = next(
        (slot for slot in context["free"] if chosen.isdigit() and slot.id == int(chosen[:10])),
        None,
    )
    stored = session.get("dob")
    dob_value = args.get("date_of_birth")
    if dob_value is None and isinstance(stored, str) and len(stored) == 10:
        dob_value = f"{stored[5:7]}/{stored[8:10]}/{stored[:4]}"
    context.update(
        dob={"date_of_birth": dob_value or ""},
        dob_errors=errors,
        dob_needed=args.get("dob") == "ask" and not stored,
    )
    # A vaccine that is not on the list: the page with the reason and every time, not a 500.
    if filter_errors and status == 200:
        status = 422
    return render_template("clinic.html", **context), status


@bp.get("/clinics/<int(max=2147483647):clinic_id>")
def clinic(clinic_id: int) -> Any:
    """A clinic's address, its days with free places, and the free times of one day."""
    return _clinic_page(clinic_id, request.args, {})


@bp.post("/clinics/<int(max=2147483647):clinic_id>/dob")
def clinic_dob(clinic_id: int) -> Any:
    """Keep the date of birth of the person to be vaccinated, so only bookable times are held."""
    raw = request.form.get("date_of_birth", "")[:20]
    try:
        born = parse_birth_date(raw, today=now().date())
    except InvalidInput as exc:
        args = {**request.form.to_dict(), "date_of_birth": raw}
        return _clinic_page(clinic_id, args, exc.errors, 422)
    session["dob"] = born.isoformat()
    keep: dict[str, Any] = {
        k: request.form[k][:40]
        for k in ("date", "service", "vaccine", "slot")
        if request.form.get(k)
    }
    return redirect(url_for("resident.clinic", clinic_id=clinic_id, **keep), code=303)
