"""Clinic console: the clinic's API keys for its own scheduling system.

Managers make, name, rotate and revoke keys; a new or rotated key's text is shown on the page
that answers the form, once, and is never stored. A state admin may let a key act for other
clinics too (a chain's sites). Every change is audited with the key's visible prefix.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.clinic import bp
from booking.clock import now
from booking.db import db
from booking.models import Clinic, ClinicApiKey, Role
from booking.services import api_keys
from booking.services.errors import DomainError
from booking.services.text import N_
from booking.web.access import audit, current_staff, staff_route

MANAGERS = (Role.CLINIC_MANAGER, Role.STATE_ADMIN)
ID = "int(max=2147483647)"
DONE = {
    "revoked": N_("Key revoked. Requests with it are refused from now on."),
    "scope": N_("The key's clinics are saved."),
}


def _clinic(clinic_id: int) -> Clinic:
    clinic = db.session.get(Clinic, clinic_id)
    if clinic is None:
        abort(404)
    return clinic


def _page(
    clinic: Clinic,
    *,
    new: api_keys.NewKey | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> Any:
    keys = api_keys.list_keys(db.session, clinic.id)
    user = current_staff()
    admin = user is not None and user.role == Role.STATE_ADMIN
    clinics = list(db.session.scalars(select(Clinic).order_by(Clinic.name))) if admin else []
    names = {c.id: c.name for c in clinics}
    if not admin:
        granted = {g for _, extra in keys for g in extra}
        rows = db.session.execute(select(Clinic.id, Clinic.name).where(Clinic.id.in_(granted)))
        names = {clinic_id: name for clinic_id, name in rows}
    page = render_template(
        "clinic/api_keys.html",
        clinic=clinic,
        keys=keys,
        new=new,
        errors=errors or [],
        done=DONE.get(request.args.get("done", "")) if request.method == "GET" else None,
        is_admin=admin,
        clinics=clinics,
        names=names,
        api_base=url_for("api.openapi_document", _external=True).removesuffix("openapi.json"),
    )
    return page, status


def _errors(exc: DomainError) -> list[str]:
    return list(exc.errors.values()) or [exc.detail]


@bp.get(f"/<{ID}:clinic_id>/api-keys")
@staff_route(*MANAGERS)
def api_keys_page(clinic_id: int) -> Any:
    """The clinic's API keys: names, prefixes, when last used, and what each may do."""
    return _page(_clinic(clinic_id))


@bp.post(f"/<{ID}:clinic_id>/api-keys")
@staff_route(*MANAGERS)
def create_api_key(clinic_id: int) -> Any:
    """Make a key and show its text, this once."""
    clinic = _clinic(clinic_id)
    secret = current_app.config["SECRET_KEY"]

    def work(s: Session) -> api_keys.NewKey:
        made = api_keys.create_key(
            s,
            clinic_id,
            request.form.get("name", ""),
            secret_key=secret,
            actor=current_staff(),
            now=now(),
        )
        audit(
            "clinic.api_key_created",
            record_type="api_key",
            record_id=made.key.id,
            clinic_id=clinic_id,
            detail={"name": made.key.name, "key": made.key.prefix},
        )
        return made

    try:
        made = db.transaction(work)
    except DomainError as exc:
        return _page(clinic, errors=_errors(exc), status=exc.status)
    return _page(clinic, new=made, status=201)


@bp.post(f"/<{ID}:clinic_id>/api-keys/<{ID}:key_id>/rotate")
@staff_route(*MANAGERS)
def rotate_api_key(clinic_id: int, key_id: int) -> Any:
    """Give a key a new text (shown once); the old text is refused at once."""
    clinic = _clinic(clinic_id)
    secret = current_app.config["SECRET_KEY"]

    def work(s: Session) -> api_keys.NewKey:
        before = api_keys.clinic_key(s, clinic_id, key_id).prefix
        made = api_keys.rotate_key(s, clinic_id, key_id, secret_key=secret, now=now())
        audit(
            "clinic.api_key_rotated",
            record_type="api_key",
            record_id=key_id,
            clinic_id=clinic_id,
            detail={"key": {"from": before, "to": made.key.prefix}},
        )
        return made

    try:
        made = db.transaction(work)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        return _page(clinic, errors=_errors(exc), status=exc.status)
    return _page(clinic, new=made)


@bp.post(f"/<{ID}:clinic_id>/api-keys/<{ID}:key_id>/revoke")
@staff_route(*MANAGERS)
def revoke_api_key(clinic_id: int, key_id: int) -> Any:
    """Revoke a key for good."""
    _clinic(clinic_id)

    def work(s: Session) -> None:
        if api_keys.revoke_key(s, clinic_id, key_id, now=now()):
            key = s.get(ClinicApiKey, key_id)
            assert key is not None
            audit(
                "clinic.api_key_revoked",
                record_type="api_key",
                record_id=key_id,
                clinic_id=clinic_id,
                detail={"key": key.prefix, "name": key.name},
            )

    try:
        db.transaction(work)
    except DomainError:
        abort(404)
    return redirect(url_for("clinic.api_keys_page", clinic_id=clinic_id, done="revoked"), 303)


@bp.post(f"/<{ID}:clinic_id>/api-keys/<{ID}:key_id>/clinics")
@staff_route(Role.STATE_ADMIN)
def api_key_clinics(clinic_id: int, key_id: int) -> Any:
    """Let a key act for other clinics too (a chain's), or for its own again only."""
    clinic = _clinic(clinic_id)
    raw = request.form.getlist("clinic_ids")
    # Anything that is not a clinic id (text, a huge number) makes the set name no clinic: the
    # service then refuses it as an unknown clinic.
    valid = all(v.isascii() and v.isdigit() and len(v) <= 10 for v in raw)
    chosen = {int(v) for v in raw} if valid else {0}

    def work(s: Session) -> None:
        api_keys.clinic_key(s, clinic_id, key_id)
        extra = api_keys.set_scope(s, key_id, chosen)
        audit(
            "clinic.api_key_scope",
            record_type="api_key",
            record_id=key_id,
            clinic_id=clinic_id,
            detail={"clinics": extra},
        )

    try:
        db.transaction(work)
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        return _page(clinic, errors=_errors(exc), status=exc.status)
    return redirect(url_for("clinic.api_keys_page", clinic_id=clinic_id, done="scope"), 303)
