"""The invitation messages: where and when the invitee may book, with their personal link; and,
when the places were filled before they booked, that the offer has ended.

The link is derived again at send time from the invitation's id and nonce (never stored), and
the message is written in the language the person chose when they preregistered.
"""

from __future__ import annotations

from babel.dates import format_date
from flask import current_app, render_template
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from booking.cldr import cldr_locale
from booking.i18n import DEFAULT_LOCALE, LANGUAGES, format_when
from booking.messages.render import Rendered, public_url
from booking.models import Clinic, Invitation, MessageKind, OutboxMessage, Preregistration
from booking.services.invitation_links import invitation_token


def render_invitation(session: Session, message: OutboxMessage) -> Rendered:
    """Render an invitation message for its channel in the invitee's language."""
    invitation = session.get(Invitation, message.invitation_id)
    if invitation is None:
        raise LookupError(f"message {message.id} refers to an invitation that does not exist")
    prereg = session.get(Preregistration, invitation.preregistration_id)
    clinic = session.get(Clinic, invitation.clinic_id)
    assert prereg is not None and clinic is not None
    locale = prereg.locale if prereg.locale in LANGUAGES else DEFAULT_LOCALE
    token = invitation_token(current_app.config["SECRET_KEY"], invitation)
    with force_locale(locale):
        values = {
            "name": prereg.first_name,
            "clinic": clinic,
            "day": format_date(invitation.day, "full", locale=cldr_locale(locale)),
            "until": format_when(invitation.expires_at, clinic.timezone, locale, short=True),
            "link": public_url("resident.invitation_link", token=token),
        }
        if message.kind == MessageKind.INVITATION_ENDED.value:
            subject = gettext("The places you were offered have been filled")
            text = render_template("messages/invitation_ended.txt", **values)
        else:
            subject = gettext("You are invited to book your vaccination")
            text = render_template("messages/invitation.txt", **values)
        if message.channel == "sms":
            return Rendered(subject=subject, text=" ".join(text.split()))
        return Rendered(subject=subject, text=text.strip() + "\n")
