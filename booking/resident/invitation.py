"""The invitee's pages: the personal link opens them, past the waiting room, to book."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext

from booking.clock import now
from booking.db import db
from booking.messages.policy import notice_policy
from booking.models import Clinic, Invitation, Preregistration
from booking.resident import bp
from booking.services import invitation_links
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.services.validation import parse_int

_SESSION = "invitation"


@bp.get("/invitation/<token>")
def invitation_link(token: str) -> Any:
    """Open an invitation from its personal link, then drop the secret from the URL."""
    try:
        found = invitation_links.find_invitation(
            db.session, current_app.config["SECRET_KEY"], token[:80]
        )
    except NotFound as exc:
        title = gettext("That link is not valid")
        return render_template("error.html", title=title, detail=exc.detail, status=None), 404
    session[_SESSION] = found.id
    return redirect(url_for("resident.invitation"), code=303)


def _context(found: Invitation) -> dict[str, Any]:
    moment = now()
    problem = None
    try:
        invitation_links.usable(found, now=moment)
    except DomainError as exc:
        problem = exc.detail
    return {
        "invitation": found,
        "prereg": db.session.get(Preregistration, found.preregistration_id),
        "clinic": db.session.get(Clinic, found.clinic_id),
        "slots": [] if problem else invitation_links.offered_slots(db.session, found, now=moment),
        "problem": problem,
    }


def _mine() -> Invitation:
    invitation_id = session.get(_SESSION)
    found = db.session.get(Invitation, invitation_id) if isinstance(invitation_id, int) else None
    if found is None:
        abort(404)
    return found


@bp.route("/invitation", methods=["GET", "POST"])
def invitation() -> Any:
    """Choose a time among the places released for the invitee and confirm who they are."""
    found = _mine()
    if request.method == "GET":
        return render_template("invitation.html", values={}, errors={}, **_context(found))
    values = {k: request.form.get(k, "")[:20] for k in ("slot_id", "date_of_birth")}
    try:
        try:
            slot_id: object = parse_int(values["slot_id"], field="slot_id", low=1, high=2**31 - 1)
        except InvalidInput:
            slot_id = None
        secret = current_app.config["SECRET_KEY"]
        done = db.transaction(
            lambda s: invitation_links.book(
                s,
                found.id,
                slot_id,
                values["date_of_birth"],
                now=now(),
                secret_key=secret,
                hold_minutes=current_app.config["HOLD_MINUTES"],
                notices=notice_policy(),
            )
        )
    except DomainError as exc:
        errors = dict(exc.errors) or {"form": exc.detail}
        context = _context(found)
        return render_template("invitation.html", values=values, errors=errors, **context), (
            exc.status
        )
    session.pop(_SESSION, None)
    # The confirmation page, as for any booking: the code, the QR code and the manage link
    # (the manage page alone never shows that link again).
    session["confirmed"] = {"id": done.reservation.id}
    session["manage"] = done.reservation.id
    return redirect(url_for("resident.confirmation"), code=303)


@bp.post("/invitation/decline")
def invitation_decline() -> Any:
    """The invitee cannot come: end the invitation (date of birth confirmed) and say so."""
    found = _mine()
    values = {"decline_date_of_birth": request.form.get("decline_date_of_birth", "")[:20]}
    try:
        db.transaction(
            lambda s: invitation_links.decline(
                s, found.id, values["decline_date_of_birth"], now=now()
            )
        )
    except DomainError as exc:
        # The decline form's own field carries the refusal (the booking form has its own).
        if exc.errors:
            errors = {"decline_date_of_birth": next(iter(exc.errors.values()))}
        else:
            errors = {"form": exc.detail}
        context = _context(found)
        return render_template("invitation.html", values=values, errors=errors, **context), (
            exc.status
        )
    session.pop(_SESSION, None)
    return render_template("invitation_declined.html")
