"""Finding times near the caller's ZIP code and holding one while the call goes on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, current_app, redirect, render_template, request, session, url_for

from booking.agent import bp
from booking.agent.common import ROLES
from booking.clock import now
from booking.db import db
from booking.models import Channel, Slot
from booking.services import agent as agent_service
from booking.services import holds, inventory, provider_search
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.services.text import N_
from booking.web.access import audit, staff_route
from booking.web.search_args import (
    RADIUS_CHOICES,
    SEARCH_FIELDS,
    parse_search,
    pick_day,
    run_provider_search,
    run_search,
)

HOLD_KEY = "agent_hold"
SEARCH_KEY = "agent_search"


def _search_page(values: Any, errors: dict[str, str], status: int = 200, **extra: Any) -> Any:
    return render_template(
        "agent/search.html",
        values=values,
        errors=errors,
        services=inventory.SERVICES,
        radius_choices=RADIUS_CHOICES,
        **extra,
    ), status


def back_to_search() -> str:
    """The agent's last search, to go back to from a hold, a full slot or a booking."""
    return url_for("agent.search", **session.get(SEARCH_KEY, {}))


@bp.get("/")
@staff_route(*ROLES)
def search() -> Any:
    """The search form; with a ZIP code, each nearby clinic's next free times as buttons."""
    if "zip" not in request.args:
        return _search_page({"radius_miles": "10"}, {})
    values = {k: request.args.get(k, "")[:20] for k in SEARCH_FIELDS}
    try:
        params = parse_search(values)
    except InvalidInput as exc:
        return _search_page(values, exc.errors, 422)
    session[SEARCH_KEY] = {k: v for k, v in values.items() if v}
    moment = now()
    results = agent_service.next_times(
        db.session,
        run_search(params),
        now=moment,
        day=params["date"],
        service=params["service"],
        horizon_days=current_app.config["BOOKING_DAYS"],
    )
    elsewhere = run_provider_search(params)
    return _search_page(
        values,
        {},
        params=params,
        results=results,
        elsewhere=elsewhere,
        listed=provider_search.by_distance(results, elsewhere),
        moment=moment,
    )


@bp.get("/clinics/<int(max=2147483647):clinic_id>")
@staff_route(*ROLES)
def clinic(clinic_id: int) -> Any:
    """Every free time of one clinic on one day, for a caller who wants another time."""
    try:
        found = inventory.get_clinic(db.session, clinic_id)
    except NotFound:
        abort(404)
    service = request.args.get("service")
    if service not in inventory.SERVICES:
        service = None
    moment = now()
    days = agent_service.free_days(
        db.session,
        found,
        now=moment,
        days=current_app.config["BOOKING_DAYS"],
        service=service,
    )
    day = pick_day(days, request.args.get("date"))
    today = moment.astimezone(ZoneInfo(found.timezone)).date()
    return render_template(
        "agent/clinic.html",
        clinic=found,
        days=days,
        day=day,
        service=service,
        services=inventory.SERVICES,
        free=agent_service.free_on_day(db.session, found, day, now=moment, service=service),
        moment=moment,
        today=today,
        tomorrow=today + timedelta(days=1),
        back_url=back_to_search(),
    )


@bp.post("/slots/<int(max=2147483647):slot_id>/hold")
@staff_route(*ROLES)
def hold(slot_id: int) -> Any:
    """Hold a time for the caller (giving back the agent's previous hold), then take details."""
    slot = db.session.get(Slot, slot_id)
    if slot is None:
        abort(404)
    previous = session.get(HOLD_KEY)

    def work(s: Any) -> Any:
        reservation = holds.place_hold(
            s,
            slot_id,
            now=now(),
            hold_minutes=current_app.config["HOLD_MINUTES"],
            channel=Channel.AGENT,
            replace_hold=previous,
        )
        audit(
            "agent.hold",
            record_type="reservation",
            record_id=reservation.id,
            clinic_id=reservation.clinic_id,
            detail={"slot_id": slot_id},
        )
        return reservation

    try:
        reservation = db.transaction(work)
    except DomainError as exc:
        page = render_template(
            "agent/message.html",
            title=N_("This time is gone"),
            message=exc.detail,
            back_url=back_to_search(),
        )
        return page, exc.status
    session[HOLD_KEY] = reservation.hold_token
    return redirect(url_for("agent.details", hold_id=reservation.hold_token), code=303)
