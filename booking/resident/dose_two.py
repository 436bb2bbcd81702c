"""Booking "dose 2 only": dose 1 was given elsewhere; the resident gives its vaccine and date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import abort, render_template, request, session

from booking.clock import now
from booking.db import db
from booking.models import Clinic, Slot, VaccineProduct
from booking.resident import bp
from booking.services import courses, inventory, products
from booking.services.errors import InvalidInput, NotFound
from booking.services.text import N_
from booking.services.validation import parse_birth_date, parse_int
from booking.web import courses as course_pages
from booking.web.search_args import pick_day


def course_products(clinic: Clinic) -> list[VaccineProduct]:
    """The two-dose products the clinic has times for."""
    offered = inventory.clinic_products(db.session, clinic, now=now())
    return [p for p in offered if courses.is_course(p)]


def _chosen_product(raw: object, offered: list[VaccineProduct]) -> VaccineProduct:
    message = N_("Choose the vaccine you had for dose 1.")
    try:
        product_id = parse_int(raw, field="product", low=1, high=course_pages.MAX_ID)
    except InvalidInput:
        raise InvalidInput(message, errors={"product": message}) from None
    found = next((p for p in offered if p.id == product_id), None)
    if found is None:
        raise InvalidInput(message, errors={"product": message})
    return found


def _given_on(raw: object, clinic: Clinic) -> date:
    given = course_pages.parse_prior_date(raw)
    if given > courses.local_day(now(), clinic):
        message = N_("The date of dose 1 cannot be in the future.")
        raise InvalidInput(message, errors={course_pages.PRIOR_FIELD: message})
    return given


@bp.get("/clinics/<int(max=2147483647):clinic_id>/dose-two")
def dose_two_only(clinic_id: int) -> Any:
    """Ask the vaccine and date of dose 1, then offer dose 2's times inside its window."""
    try:
        clinic = inventory.get_clinic(db.session, clinic_id)
    except NotFound:
        abort(404)
    offered = course_products(clinic)
    args = request.args
    stored = session.get("dob")
    values = {
        "product": args.get("product", "")[:12],
        "prior_dose_date": args.get("prior_dose_date", "")[:20],
        "date_of_birth": args.get("date_of_birth", "")[:20],
    }
    errors: dict[str, str] = {}
    choice = None
    if "product" in args or "prior_dose_date" in args:
        try:
            product = _chosen_product(values["product"], offered)
            given = _given_on(values["prior_dose_date"], clinic)
            if not stored or values["date_of_birth"]:
                born = parse_birth_date(values["date_of_birth"], today=now().date())
                session["dob"] = born.isoformat()
            # Not a booked slot: only where and what dose 2 is for, to list its times.
            where = Slot(clinic_id=clinic.id, product_id=product.id, starts_at=now())
            choice = course_pages.dose_two_choice(
                db.session, where, now=now(), first_dose_day=given
            )
        except InvalidInput as exc:
            errors = dict(exc.errors) or {"form": exc.detail}
    days, day, times = _one_day(choice, clinic, args.get("date"))
    page = render_template(
        "dose_two_only.html",
        clinic=clinic,
        offered=[(p, products.describe(p)) for p in offered],
        values=values,
        errors=errors,
        ask_dob=not stored,
        dose_two=choice,
        days=days,
        day=day,
        times=times,
        moment=now(),
    )
    return page, (422 if errors else 200)


def _one_day(
    choice: course_pages.DoseTwoChoice | None, clinic: Clinic, raw_day: str | None
) -> tuple[list[tuple[date, int]], date | None, list[Slot]]:
    """Every day of the window with its free count, the day to show, and that day's times."""
    if choice is None:
        return [], None, []
    by_day = dict(course_pages.options_by_day(choice, clinic))
    span = (choice.last_day - choice.first_day).days + 1
    days = [(choice.first_day + timedelta(days=n), 0) for n in range(span)]
    days = [(d, len(by_day.get(d, []))) for d, _ in days]
    day = pick_day(days, raw_day)
    return days, day, by_day.get(day, [])
