"""The clinic systems API: a clinic's own scheduling software pushes slots and reads its roster.

Authority is a clinic API key sent as a Bearer token, never a cookie (the console's session
does not count here). The key is checked centrally (booking.web.access.key_route), then again
inside each request's transaction, locked, with the clinic of the URL in its scope: a key
revoked or rotated while a batch waits is refused whole, and a revocation waits for a batch in
flight. Every use is audited; a refused use of a known key too, in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request
from sqlalchemy.orm import Session

from booking.api import bp
from booking.api.common import BadRequest, idempotency_key, json_object, path_id
from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, ClinicApiKey
from booking.services import api_keys, clinic_api
from booking.services import staff as staff_service
from booking.services.errors import DomainError, NotFound
from booking.services.text import N_
from booking.services.validation import parse_date
from booking.web.access import audit_key_refusal, key_route, presented_key, require_key

PREFIX = "/v1/clinic-systems/clinics/<clinic_id>"
T = TypeVar("T")
_NO_CLINIC = N_("No clinic with that id in this key's scope.")


def _as_key(
    clinic_id: int, action: str, work: Callable[[Session, Clinic], tuple[T, dict[str, Any]]]
) -> T:
    """Run ``work`` for the presented key's clinic in one transaction, audited."""
    presented = presented_key()
    secret = current_app.config["SECRET_KEY"]
    moment = now()

    def unit(s: Session) -> T:
        key = api_keys.authenticate(s, presented, secret_key=secret, lock=True)
        g.api_key = key
        clinic = s.get(Clinic, clinic_id) if clinic_id in api_keys.scope_of(s, key) else None
        if clinic is None:
            raise NotFound(_NO_CLINIC)
        key.last_used_at = moment
        result, detail = work(s, clinic)
        staff_service.record_audit(
            s,
            actor=None,
            action=action,
            now=moment,
            record_type="api_key",
            record_id=key.id,
            clinic_id=clinic.id,
            request_id=g.get("request_id"),
            ip=request.remote_addr,
            detail={"key": key.prefix, **detail},
        )
        return result

    try:
        return db.transaction(unit)
    except DomainError as exc:
        known: ClinicApiKey | None = g.get("api_key")
        audit_key_refusal(known, exc.status, str(exc.detail))
        raise


@bp.post(f"{PREFIX}/slot-batches")
@key_route
def clinic_systems_batch(clinic_id: str) -> Any:
    """Create, resize and close the clinic's slots, by its own ids, in one idempotent batch."""
    require_key()
    target = path_id(clinic_id, _NO_CLINIC)
    key = idempotency_key()
    if key is None:
        raise BadRequest(N_("Send an Idempotency-Key header (one per batch)."))
    body = json_object()
    notices = notice_policy()

    def work(s: Session, clinic: Clinic) -> tuple[clinic_api.BatchOutcome, dict[str, Any]]:
        outcome = clinic_api.apply_batch(
            s, clinic, key, body, key_id=g.api_key.id, now=now(), notices=notices
        )
        counts: dict[str, int] = {}
        for item in outcome.result["slots"]:
            counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
        return outcome, {"idempotency_key": key, "replayed": outcome.replayed, **counts}

    outcome = _as_key(target, "clinic_api.batch", work)
    response = jsonify(outcome.result)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get(f"{PREFIX}/roster")
@key_route
def clinic_systems_roster(clinic_id: str) -> Any:
    """The clinic's booked residents on one local day."""
    require_key()
    target = path_id(clinic_id, _NO_CLINIC)
    day = parse_date(request.args.get("date"), field="date")

    def work(s: Session, clinic: Clinic) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rows = clinic_api.roster(s, clinic, day)
        return rows, {"day": day.isoformat(), "residents": len(rows)}

    rows = _as_key(target, "clinic_api.roster", work)
    return {"date": day.isoformat(), "reservations": rows}


@bp.after_request
def _bearer_challenge(response: Response) -> Response:
    # RFC 6750: a refused Bearer request says which scheme it takes.
    if response.status_code == 401 and "/v1/clinic-systems/" in request.path:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fairslot-clinic-systems"'
    return response
