"""What the resident and 2-1-1 preregistration pages share: the form's choices and the notices."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_babel import gettext, ngettext
from sqlalchemy import select

from booking.db import db
from booking.i18n import LANGUAGES, current_locale
from booking.models import Clinic, Invitation, Preregistration
from booking.services import invitation_links, preregistration
from booking.services.inventory import SERVICES
from booking.services.products import list_products

FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "service",
    "zip",
    "travel_miles",
    "phone",
    "email",
    "callback_phone",
    "language",
    "product_id",
    "accessibility",
    "short_notice",
    "resident",
    "has_condition",
    "consent",
)


def form_values(form: Any) -> dict[str, str]:
    """The posted fields, each cut to a length no valid answer exceeds."""
    return {name: form.get(name, "")[:600] for name in FIELDS if name in form}


def retention_notice() -> str:
    """The retention rule in the reader's language."""
    days = current_app.config["PREREGISTRATION_RETENTION_DAYS"]
    return str(
        ngettext(
            "We delete your preregistration %(num)d day after you are vaccinated or withdraw.",
            "We delete your preregistration %(num)d days after you are vaccinated or withdraw.",
            days,
        )
    )


def form_context(*, callback: bool = False) -> dict[str, Any]:
    """The choices the form offers (languages, vaccines, products) and its notices."""
    return {
        "languages": LANGUAGES,
        "services": SERVICES,
        "products": list_products(db.session, active_only=True),
        "current_locale": current_locale(),
        "retention_notice": retention_notice(),
        "callback": callback,
        "contact_intro": (
            gettext(
                "How should we send the invitation? Give a mobile phone, an email, or a "
                "call-back number."
            )
            if callback
            else gettext("How should we send your invitation? Give at least one.")
        ),
    }


def details_values(prereg: Preregistration) -> dict[str, Any]:
    """A preregistration's changeable details as the change form shows them."""
    return {
        "zip": prereg.zip_code,
        "travel_miles": str(prereg.travel_miles),
        "phone": prereg.phone or "",
        "email": prereg.email or "",
        "language": prereg.locale,
        "product_id": str(prereg.product_id) if prereg.product_id else "any",
        "accessibility": prereg.accessibility or "",
        "short_notice": "yes" if prereg.short_notice else "",
    }


def status_words(status: str, *, staff: bool = False) -> str:
    """A preregistration's status in words (to the person, or to staff about them)."""
    words = {
        "waiting": gettext("Waiting for an invitation"),
        "invited": gettext("Invited")
        if staff
        else gettext("Invited: check your messages for your link"),
        "booked": gettext("Booked"),
        "vaccinated": gettext("Vaccinated"),
        "withdrawn": gettext("Withdrawn"),
    }
    return str(words.get(status, status))


def live_invitation(prereg: Preregistration) -> tuple[Invitation, Clinic, str] | None:
    """The person's live invitation, its clinic, and its personal link, if they hold one."""
    found = db.session.scalar(
        select(Invitation).where(
            Invitation.preregistration_id == prereg.id, Invitation.status == "sent"
        )
    )
    if found is None:
        return None
    clinic = db.session.get(Clinic, found.clinic_id)
    assert clinic is not None
    token = invitation_links.invitation_token(current_app.config["SECRET_KEY"], found)
    link = str(current_app.config["PUBLIC_URL"]).rstrip("/") + url_for(
        "resident.invitation_link", token=token
    )
    return found, clinic, link


def status_context(prereg: Preregistration, link: str, *, staff: bool = False) -> dict[str, Any]:
    """Everything the status page (resident or agent) shows."""
    return {
        "invited": live_invitation(prereg),
        "prereg": prereg,
        "standing": preregistration.standing(db.session, prereg),
        "status_words": status_words(prereg.status, staff=staff),
        "active": prereg.status in preregistration.ACTIVE,
        "link": link,
        "retention_notice": retention_notice(),
    }
