"""Preregistration pages: sign up, the private status link, change details, withdraw."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext

from booking.clock import now
from booking.db import db
from booking.models import Preregistration
from booking.resident import bp
from booking.services import preregistration
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.web import preregistration as pages

_SESSION = "prereg"


def _link(prereg: Preregistration) -> str:
    token = preregistration.status_token(current_app.config["SECRET_KEY"], prereg)
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + url_for(
        "resident.prereg_link", token=token
    )


@bp.route("/preregister", methods=["GET", "POST"])
def preregister() -> Any:
    """The sign-up form; on success, the status page (its private link shown there)."""
    if request.method == "GET":
        return render_template("preregister.html", values={}, errors={}, **pages.form_context())
    values = pages.form_values(request.form)
    try:
        prereg = db.transaction(
            lambda s: preregistration.register(s, values, now=now(), channel="online")
        )
    except InvalidInput as exc:
        errors = dict(exc.errors) or {"form": exc.detail}
        context = pages.form_context()
        return render_template("preregister.html", values=values, errors=errors, **context), 422
    except DomainError as exc:
        context = pages.form_context()
        errors = {"form": exc.detail}
        return render_template(
            "preregister.html", values=values, errors=errors, **context
        ), exc.status
    session[_SESSION] = prereg.id
    return redirect(url_for("resident.prereg_status", new=1), code=303)


@bp.get("/preregistration/<token>")
def prereg_link(token: str) -> Any:
    """Open a preregistration from its private link, then drop the secret from the URL."""
    try:
        prereg = preregistration.find_by_token(
            db.session, current_app.config["SECRET_KEY"], token[:80]
        )
    except NotFound as exc:
        title = gettext("That link is not valid")
        return render_template("error.html", title=title, detail=exc.detail, status=None), 404
    session[_SESSION] = prereg.id
    return redirect(url_for("resident.prereg_status"), code=303)


def _mine() -> Preregistration:
    prereg_id = session.get(_SESSION)
    prereg = db.session.get(Preregistration, prereg_id) if isinstance(prereg_id, int) else None
    if prereg is None:
        abort(redirect(url_for("resident.preregister")))
    return prereg


@bp.get("/preregistration")
def prereg_status() -> Any:
    """Where the person stands: group, status, the group's invitations so far."""
    prereg = _mine()
    return render_template("prereg_status.html", **pages.status_context(prereg, _link(prereg)))


@bp.route("/preregistration/change", methods=["GET", "POST"])
def prereg_edit() -> Any:
    """Change the details that do not decide who the person is or their group."""
    prereg = _mine()
    if request.method == "GET":
        values = pages.details_values(prereg)
        return render_template("prereg_edit.html", values=values, errors={}, **pages.form_context())
    values = pages.form_values(request.form)
    try:
        db.transaction(lambda s: preregistration.update_details(s, prereg.id, values, now=now()))
    except DomainError as exc:
        errors = dict(exc.errors) or {"form": exc.detail}
        context = pages.form_context()
        return render_template("prereg_edit.html", values=values, errors=errors, **context), (
            exc.status
        )
    return redirect(url_for("resident.prereg_status", changed=1), code=303)


@bp.route("/preregistration/withdraw", methods=["GET", "POST"])
def prereg_withdraw() -> Any:
    """Ask to be sure, then withdraw."""
    prereg = _mine()
    if request.method == "GET":
        notice = pages.retention_notice()
        return render_template("prereg_withdraw.html", retention_notice=notice)
    try:
        db.transaction(lambda s: preregistration.withdraw(s, prereg.id, now=now()))
    except DomainError as exc:
        context = pages.status_context(prereg, _link(prereg))
        return render_template("prereg_status.html", error=exc.detail, **context), exc.status
    return redirect(url_for("resident.prereg_status"), code=303)
