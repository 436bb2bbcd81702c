"""State admins: release places for preregistered people, run invitation rounds, follow them."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from flask import redirect, render_template, request, url_for

from booking.admin import bp
from booking.clock import now
from booking.db import db
from booking.jobs import rounds
from booking.models import Clinic, OnExpiry, Role
from booking.services import invitation_report, invitation_rounds, invitations
from booking.services.errors import DomainError, InvalidInput
from booking.services.inventory import SERVICES
from booking.services.text import N_
from booking.services.validation import parse_date, parse_int
from booking.web.access import audit, current_staff, staff_route
from booking.web.preregistration import status_words

log = logging.getLogger(__name__)
RELEASE_FIELDS = ("clinic_id", "day", "places", "service")
ROUND_FIELDS = ("service", "over_invitation", "expires_hours", "on_expiry")


def _page(values: dict[str, Any], errors: dict[str, str], status: int = 200, **extra: Any) -> Any:
    moment = now()
    rounds = invitation_report.funnel(db.session)
    return render_template(
        "admin/invitations.html",
        values={
            "over_invitation": "1",
            "expires_hours": "24",
            "on_expiry": "next_round",
            "service": "covid19",
            **values,
        },
        errors=errors,
        services=SERVICES,
        clinics=db.session.query(Clinic).filter(Clinic.active.is_(True)).order_by(Clinic.name),
        groups=invitation_report.group_counts(db.session),
        areas=invitation_report.waiting_by_area(db.session),
        releases=invitation_report.released(db.session, now=moment),
        rounds=rounds,
        by_clinic=invitation_report.funnel_by_clinic(db.session, [r for r, _c in rounds]),
        acceptance=invitation_report.acceptance,
        status_words=partial(status_words, staff=True),
        **extra,
    ), status


@bp.get("/invitations")
@staff_route(Role.STATE_ADMIN)
def invitations_view() -> Any:
    """Preregistrations per group, places released, and each round's funnel."""
    return _page({}, {})


@bp.post("/invitations/release")
@staff_route(Role.STATE_ADMIN)
def invitations_release() -> Any:
    """Set aside places of a clinic's day for invitees."""
    values = {k: request.form.get(k, "")[:20] for k in RELEASE_FIELDS}
    errors: dict[str, str] = {}
    try:
        clinic_id = parse_int(values["clinic_id"], field="clinic_id", low=1, high=2**31 - 1)
        day = parse_date(values["day"], field="day")
        places = parse_int(values["places"], field="places", low=0, high=100_000)
        if values["service"] not in SERVICES:
            raise InvalidInput(N_("Choose a vaccine."), errors={"service": N_("Choose a vaccine.")})
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        return _page(values, errors, 422)

    def work(s: Any) -> int:
        done = invitations.release_places(
            s, clinic_id, day, places, service=values["service"], now=now()
        )
        audit(
            "invitations.release",
            record_type="clinic",
            record_id=clinic_id,
            clinic_id=clinic_id,
            detail={"day": day.isoformat(), "asked": places, "released": done},
        )
        return done

    try:
        done = db.transaction(work)
    except DomainError as exc:
        return _page(values, dict(exc.errors) or {"form": exc.detail}, exc.status)
    return _page({}, {}, released_now=done)


@bp.post("/invitations/rounds")
@staff_route(Role.STATE_ADMIN)
def invitations_round() -> Any:
    """Draw a round: who is invited to every clinic and day with released places."""
    values = {k: request.form.get(k, "")[:20] for k in ROUND_FIELDS}
    errors: dict[str, str] = {}
    try:
        factor = float(values["over_invitation"])
    except ValueError:
        factor = 0.0
    try:
        hours = parse_int(values["expires_hours"], field="expires_hours", low=1, high=168)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if values["service"] not in SERVICES:
        errors["service"] = N_("Choose a vaccine.")
    if errors:
        return _page(values, errors, 422)
    on_expiry = values["on_expiry"] or OnExpiry.NEXT_ROUND.value
    settings = {
        "service": values["service"],
        "over_invitation": factor,
        "expires_hours": hours,
        "on_expiry": on_expiry,
    }
    try:
        invitation_rounds.check_settings(factor, hours, on_expiry)
        invitation_rounds.check_not_busy(db.session, values["service"])
    except DomainError as exc:
        return _page(values, dict(exc.errors) or {"form": exc.detail}, exc.status)
    staff = current_staff()
    # A worker draws and writes it: minutes at a million people, longer than a request may.
    try:
        rounds.enqueue_round(settings, staff.id if staff else None)
    except Exception:
        log.exception("could not queue an invitation round")
        return _page(
            values, {"form": N_("The round could not be started: try again in a minute.")}, 503
        )
    return redirect(url_for("admin.invitations_view"), code=303)
