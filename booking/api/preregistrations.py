"""Preregistration in the API: sign up, read where you stand, change details, withdraw.

The status token (returned once, at sign-up) is the only key to a preregistration; the
resident pages' private link carries the same token.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from booking.api import bp
from booking.api.common import json_object
from booking.clock import now
from booking.db import db
from booking.models import Preregistration
from booking.services import preregistration


def prereg_json(session: Any, prereg: Preregistration) -> dict[str, Any]:
    """A preregistration as the API shows it to its holder."""
    standing = preregistration.standing(session, prereg)
    return {
        "status": prereg.status,
        "service": prereg.service,
        "priority_group": standing.priority_group,
        "priority_rank": standing.priority_rank,
        "invitations_in_group": standing.invited_in_group,
        "zip": prereg.zip_code,
        "travel_miles": prereg.travel_miles,
        "language": prereg.locale,
        "product_id": prereg.product_id,
        "short_notice": prereg.short_notice,
        "retention_days": current_app.config["PREREGISTRATION_RETENTION_DAYS"],
    }


def _found(session: Any, token: str) -> Preregistration:
    return preregistration.find_by_token(session, current_app.config["SECRET_KEY"], token[:80])


@bp.post("/v1/preregistrations")
def create_preregistration() -> Any:
    """Preregister a person; the answer carries the status token, shown this once."""
    body = json_object()

    def work(session: Any) -> dict[str, Any]:
        prereg = preregistration.register(session, body, now=now(), channel="api")
        token = preregistration.status_token(current_app.config["SECRET_KEY"], prereg)
        return {"status_token": token, "preregistration": prereg_json(session, prereg)}

    return db.transaction(work), 201


@bp.get("/v1/preregistrations/<token>")
def get_preregistration(token: str) -> Any:
    """Where the person stands."""
    return prereg_json(db.session, _found(db.session, token))


@bp.put("/v1/preregistrations/<token>/details")
def update_preregistration(token: str) -> Any:
    """Replace the changeable details (where, how far, contact, language, product, needs)."""
    body = json_object()

    def work(session: Any) -> dict[str, Any]:
        prereg = _found(session, token)
        return prereg_json(
            session, preregistration.update_details(session, prereg.id, body, now=now())
        )

    return db.transaction(work)


@bp.post("/v1/preregistrations/<token>/withdraw")
def withdraw_preregistration(token: str) -> Any:
    """Withdraw; replaying it changes nothing."""

    def work(session: Any) -> dict[str, Any]:
        prereg = _found(session, token)
        return prereg_json(session, preregistration.withdraw(session, prereg.id, now=now()))

    return db.transaction(work)
