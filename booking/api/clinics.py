"""Searching clinics and listing a clinic's slots."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from booking.api import bp
from booking.api.common import path_id
from booking.api.serializers import clinic_result_json, slot_json
from booking.clock import now
from booking.db import db
from booking.services import inventory
from booking.services.errors import InvalidInput
from booking.services.text import N_
from booking.web.search_args import parse_day, parse_product, parse_search, run_search


@bp.get("/v1/clinics")
def list_clinics() -> Any:
    """Clinics near a ZIP code, nearest first."""
    results = run_search(parse_search(request.args))
    return {"clinics": [clinic_result_json(r) for r in results]}, 200, _shared_cache()


@bp.get("/v1/clinics/<clinic_id>/slots")
def list_slots(clinic_id: str) -> Any:
    """A clinic's slots on one local date."""
    clinic_key = path_id(clinic_id, N_("No clinic with that id."))
    if not request.args.get("date"):
        raise InvalidInput(N_("Missing date."), errors={"date": N_("Give a date as YYYY-MM-DD.")})
    day = parse_day(request.args["date"])
    service = request.args.get("service") or None
    if service is not None and service not in inventory.SERVICES:
        choices = ", ".join(inventory.SERVICES)
        raise InvalidInput(
            N_("Unknown service."),
            errors={"service": N_("Choose one of: %(choices)s.", choices=choices)},
        )
    errors: dict[str, str] = {}
    product = parse_product(request.args.get("product"), service, errors)
    if errors:
        raise InvalidInput(N_("Unknown vaccine product."), errors=errors)
    clinic = inventory.get_clinic(db.session, clinic_key)
    moment = now()
    slots = inventory.slots_for_day(
        db.session,
        clinic,
        day,
        now=moment,
        service=service,
        product_id=product.id if product else None,
    )
    return {"slots": [slot_json(s, clinic.timezone, moment) for s in slots]}, 200, _shared_cache()


def _shared_cache() -> dict[str, str]:
    """Let nginx serve the same public answer again for a moment (FAIRSLOT_AVAILABILITY_MAX_AGE).

    In a crowd every arrival searches the same few places; answered from nginx's cache, those
    searches no longer take booking workers from the admitted residents' holds and confirms. The
    answer is the same for everyone (no session, no caller), and a stale "available" costs only
    a refused hold, which the caller is told about. Slot lists are shared too: measured side by
    side, a fresh list made fewer holds fail near a sell-out but was itself the slowest step of
    the crowd (docs/performance.md, "the crowd's searches answered by nginx's cache").
    """
    seconds = int(current_app.config["AVAILABILITY_MAX_AGE"])
    return {"Cache-Control": f"public, max-age={seconds}"} if seconds > 0 else {}
