"""Standby for today in the clinic console: fill leftover places with short-notice volunteers."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request

from booking.clinic import bp
from booking.clock import now
from booking.db import db
from booking.models import Clinic, Role
from booking.services import invitation_report, standby
from booking.services.errors import DomainError
from booking.services.inventory import SERVICES
from booking.web.access import audit, current_staff, staff_route

MANAGERS = (Role.CLINIC_MANAGER, Role.STATE_ADMIN)
ID = "int(max=2147483647)"


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return clinic


def _page(clinic: Clinic, values: dict[str, str], errors: dict[str, str], **extra: Any) -> Any:
    services = {code: SERVICES[code] for code in clinic.services or [] if code in SERVICES}
    return render_template(
        "clinic/standby.html",
        clinic=clinic,
        services=services,
        values={"hours": "1", "service": next(iter(services), ""), **values},
        errors=errors,
        max_places=standby.MAX_PLACES,
        max_hours=standby.MAX_HOURS,
        # This clinic's share of the latest rounds (the state's and its own standby offers).
        funnel=invitation_report.funnel_by_clinic(
            db.session, [r for r, _c in invitation_report.funnel(db.session)], clinic_id=clinic.id
        ),
        acceptance=invitation_report.acceptance,
        **extra,
    )


@bp.route(f"/<{ID}:clinic_id>/standby", methods=["GET", "POST"])
@staff_route(*MANAGERS)
def standby_page(clinic_id: int) -> Any:
    """Ask FairSlot to fill places left today: offers go to short-notice volunteers nearby."""
    clinic = _clinic(clinic_id)
    if request.method == "GET":
        return _page(clinic, {}, {})
    values = {k: request.form.get(k, "")[:20] for k in ("places", "hours", "service")}
    staff = current_staff()

    def work(s: Any) -> standby.Standby:
        done = standby.fill(
            s,
            clinic.id,
            places=values["places"],
            hours=values["hours"],
            service=values["service"],
            now=now(),
            staff_id=staff.id if staff else None,
        )
        audit(
            "clinic.standby",
            record_type="invitation_round",
            record_id=done.round.id,
            clinic_id=clinic.id,
            detail={"seed": done.round.seed, "places": done.places, "offers": done.offers},
        )
        return done

    try:
        done = db.transaction(work)
    except DomainError as exc:
        errors = dict(exc.errors) or {"form": str(exc.detail)}
        return _page(clinic, values, errors), exc.status
    return _page(clinic, values, {}, done=done)
