"""Preregistering a caller from the 2-1-1 console, and finding a caller's preregistration."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext

from booking.agent import bp
from booking.agent.common import ROLES
from booking.clock import now
from booking.db import db
from booking.models import Preregistration
from booking.services import preregistration as service
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.services.text import N_
from booking.services.validation import parse_date
from booking.web import preregistration as pages
from booking.web.access import audit, staff_route

_KNOWN = "agent_prereg"


def _form_page(values: Any, errors: dict[str, str], status: int = 200) -> Any:
    context = pages.form_context(callback=True)
    return render_template(
        "agent/preregister.html", values=values, errors=errors, find={}, **context
    ), status


def _remember(prereg_id: int) -> None:
    known = [i for i in session.get(_KNOWN, []) if i != prereg_id]
    session[_KNOWN] = [prereg_id, *known][:20]


def _known(prereg_id: int) -> Preregistration:
    """A preregistration this agent made or found on this sign-in; anything else is not found."""
    prereg = db.session.get(Preregistration, prereg_id)
    if prereg_id not in session.get(_KNOWN, []) or prereg is None:
        abort(404)
    return prereg


@bp.route("/preregister", methods=["GET", "POST"])
@staff_route(*ROLES)
def preregister() -> Any:
    """Preregister a caller; a call-back number stands in for text messages and email."""
    if request.method == "GET":
        return _form_page({"consent": ""}, {})
    values = pages.form_values(request.form)

    def work(s: Any) -> Preregistration:
        prereg = service.register(s, values, now=now(), channel="agent")
        audit("agent.preregister", record_type="preregistration", record_id=prereg.id)
        return prereg

    try:
        prereg = db.transaction(work)
    except InvalidInput as exc:
        return _form_page(values, dict(exc.errors) or {"form": exc.detail}, 422)
    except DomainError as exc:
        return _form_page(values, {"form": exc.detail}, exc.status)
    _remember(prereg.id)
    return redirect(url_for("agent.preregistration", prereg_id=prereg.id, new=1), code=303)


@bp.post("/preregistrations/find")
@staff_route(*ROLES)
def find_preregistration() -> Any:
    """Find a caller's active preregistration by name and date of birth."""
    find = {k: request.form.get(f"find_{k}", "")[:100] for k in ("first_name", "last_name")}
    find["dob"] = request.form.get("dob", "")[:20]
    try:
        born = parse_date(find["dob"], field="dob")
        prereg = service.find_active(db.session, find["first_name"], find["last_name"], born)
    except (InvalidInput, NotFound):
        context = pages.form_context(callback=True)
        errors = {"find": N_("No active preregistration matches these details.")}
        return render_template(
            "agent/preregister.html", values={}, errors=errors, find=find, **context
        ), 404
    _remember(prereg.id)
    return redirect(url_for("agent.preregistration", prereg_id=prereg.id), code=303)


@bp.get("/preregistrations/<int(max=2147483647):prereg_id>")
@staff_route(*ROLES)
def preregistration(prereg_id: int) -> Any:
    """The caller's preregistration: group, status, the group's invitations so far."""
    prereg = _known(prereg_id)
    db.transaction(
        lambda _s: audit(
            "agent.view_preregistration", record_type="preregistration", record_id=prereg.id
        )
    )
    context = pages.status_context(prereg, link="", staff=True)
    return render_template("agent/preregistration.html", **context)


@bp.post("/preregistrations/<int(max=2147483647):prereg_id>/withdraw")
@staff_route(*ROLES)
def withdraw_preregistration(prereg_id: int) -> Any:
    """Withdraw once the caller has asked for it."""
    prereg = _known(prereg_id)

    def work(s: Any) -> None:
        service.withdraw(s, prereg.id, now=now())
        audit("agent.withdraw_preregistration", record_type="preregistration", record_id=prereg.id)

    try:
        db.transaction(work)
    except DomainError as exc:
        context = pages.status_context(prereg, link="", staff=True)
        return render_template("agent/preregistration.html", error=exc.detail, **context), 409
    message = gettext("The preregistration is withdrawn.")
    context = pages.status_context(prereg, link="", staff=True)
    return render_template("agent/preregistration.html", done=message, **context)
