"""Preregistration in the API: sign up, read where you stand, change details, withdraw.

The status token (returned once, at sign-up) is the only key to a preregistration; the
resident pages' private link carries the same token.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from booking.api import bp
from booking.api.common import is_json_integer, json_object
from booking.clock import now
from booking.db import db
from booking.models import Preregistration
from booking.services import preregistration
from booking.services.errors import InvalidInput
from booking.services.text import N_


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


_TEXT = (
    "first_name",
    "last_name",
    "date_of_birth",
    "service",
    "zip",
    "phone",
    "email",
    "language",
    "accessibility",
)
_YES_NO = ("resident", "has_condition", "consent", "short_notice")


def _typed(body: dict[str, Any]) -> dict[str, Any]:
    """Refuse JSON values of the wrong type, as the document types them; the service parses
    the rest (it also serves the pages, whose values are all text)."""
    errors: dict[str, Any] = {}
    for name in _TEXT:
        if body.get(name) is not None and not isinstance(body[name], str):
            errors[name] = (
                N_("Enter a date as text.")
                if name == "date_of_birth"
                else (N_("Send %(field)s as text.", field=name))
            )
    for name in _YES_NO:
        value = body.get(name, False)
        if not (isinstance(value, bool) or value in ("yes", "no")):  # 1 == True in Python
            errors[name] = N_("Use true or false.")
    if "travel_miles" in body and not is_json_integer(body["travel_miles"]):
        errors["travel_miles"] = N_("Send %(field)s as a JSON integer.", field="travel_miles")
    product = body.get("product_id")
    if product not in (None, "any") and not is_json_integer(product):
        errors["product_id"] = N_("Send %(field)s as a JSON integer.", field="product_id")
    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    return body


def _found(session: Any, token: str) -> Preregistration:
    return preregistration.find_by_token(session, current_app.config["SECRET_KEY"], token[:80])


@bp.post("/v1/preregistrations")
def create_preregistration() -> Any:
    """Preregister a person; the answer carries the status token, shown this once."""
    body = _typed(json_object())

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
    body = _typed(json_object())

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
