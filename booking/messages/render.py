"""Turning an outbox row into what the resident reads: subject, text, HTML, SMS, .ics and QR.

Messages are rendered when they are sent, from the row's payload (which slot, which clinic)
and the reservation, in the language the reservation was booked in. The manage link's secret
is derived again from the app's key; it is never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, render_template
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from booking.cldr import cldr_locale
from booking.i18n import DEFAULT_LOCALE, LANGUAGES, format_when, translate
from booking.messages.ics import Event, calendar_ics
from booking.messages.qr import qr_png
from booking.models import Clinic, MessageKind, OutboxMessage, Reservation, Slot, VaccineProduct
from booking.services import products
from booking.services.tokens import format_code, manage_token_for

CANCELLING = (MessageKind.CANCELLATION.value, MessageKind.CLINIC_CANCELLATION.value)
WITH_CALENDAR = (MessageKind.CONFIRMATION.value, MessageKind.RESCHEDULE.value, *CANCELLING)


@dataclass(frozen=True)
class SecondDose:
    """A course's dose 2 as dose 1's message names it: booked, moved, cancelled or unchanged."""

    reservation: Reservation
    slot: Slot
    clinic: Clinic
    product: VaccineProduct
    sequence: int
    changed: bool  # False: dose 1 moved or ended and dose 2 stays as it was
    previous_starts_at: datetime | None = None


@dataclass(frozen=True)
class MessageContext:
    """The rows a message talks about, loaded in one short read."""

    message: OutboxMessage
    reservation: Reservation
    slot: Slot
    clinic: Clinic
    product: VaccineProduct
    previous_slot: Slot | None = None
    previous_clinic: Clinic | None = None
    second: SecondDose | None = None


@dataclass(frozen=True)
class Rendered:
    """A message ready for its channel; email has all parts, SMS only ``text``."""

    subject: str
    text: str
    html: str | None = None
    ics: str | None = None
    qr_png: bytes | None = None


def load_context(session: Session, message: OutboxMessage) -> MessageContext:
    """Read the reservation, slot and clinic (and the previous ones, for a move)."""
    payload = message.payload
    reservation = session.get(Reservation, message.reservation_id)
    slot = session.get(Slot, payload["slot_id"])
    clinic = session.get(Clinic, payload["clinic_id"])
    if reservation is None or slot is None or clinic is None:
        raise LookupError(f"message {message.id} refers to rows that do not exist")
    product = products.slot_product(session, slot)
    previous_slot = previous_clinic = None
    if payload.get("previous_slot_id"):
        previous_slot = session.get(Slot, payload["previous_slot_id"])
        previous_clinic = session.get(Clinic, payload["previous_clinic_id"])
    return MessageContext(
        message,
        reservation,
        slot,
        clinic,
        product,
        previous_slot,
        previous_clinic,
        _second_dose(session, payload),
    )


def _second_dose(session: Session, payload: dict[str, Any]) -> SecondDose | None:
    """Dose 2 named by dose 1's message (notices.py writes it), or None for one appointment."""
    named = payload.get("second_dose") or payload.get("second_dose_kept")
    if not named or not named.get("reservation_id"):
        return None
    reservation = session.get(Reservation, named["reservation_id"])
    slot = session.get(Slot, named["slot_id"])
    clinic = session.get(Clinic, named["clinic_id"])
    if reservation is None or slot is None or clinic is None:
        raise LookupError("a message names a second dose that does not exist")
    previous = named.get("previous_starts_at")
    return SecondDose(
        reservation,
        slot,
        clinic,
        products.slot_product(session, slot),
        sequence=int(named.get("sequence", 0)),
        changed="second_dose" in payload,
        previous_starts_at=datetime.fromisoformat(previous) if previous else None,
    )


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute URL on FAIRSLOT_PUBLIC_URL, built outside any request (for messages)."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def public_host() -> str:
    """The host name of FAIRSLOT_PUBLIC_URL (for Message-IDs, UIDs and the default sender)."""
    return urlsplit(current_app.config["PUBLIC_URL"]).hostname or "localhost"


def _when(moment: datetime, clinic: Clinic, locale: str, *, short: bool = False) -> str:
    when = format_when(moment, clinic.timezone, locale, short=short)
    if short:
        return when
    # Residents may read this far from the clinic: name its time zone (EST, EDT, ...).
    zone = format_datetime(
        moment, "zzz", tzinfo=ZoneInfo(clinic.timezone), locale=cldr_locale(locale)
    )
    return f"{when} {zone}"


def _address(clinic: Clinic) -> str:
    return f"{clinic.address_line}, {clinic.city}, {clinic.state} {clinic.postal_code}"


def template_values(ctx: MessageContext) -> dict[str, Any]:
    """Everything the message templates may show."""
    message, reservation, clinic = ctx.message, ctx.reservation, ctx.clinic
    locale = message_locale(ctx)
    code = reservation.confirmation_code or ""
    manage_token = manage_token_for(current_app.config["SECRET_KEY"], reservation.hold_token)
    values: dict[str, Any] = {
        "kind": message.kind,
        "channel": message.channel,
        "first_name": reservation.first_name or "",
        "code": format_code(code) if code else "",
        # The vaccine in plain words, "COVID-19 vaccine (Moderna)", in every part of the message.
        "service_name": str(translate(products.describe_reservation(ctx.product, reservation))),
        "clinic": clinic,
        "address": _address(clinic),
        "when": _when(ctx.slot.starts_at, clinic, locale),
        "when_short": _when(ctx.slot.starts_at, clinic, locale, short=True),
        "hours_before": message.payload.get("hours_before"),
        "reason": message.payload.get("reason"),
        "manage_url": public_url("resident.manage_link", token=manage_token),
        "book_url": public_url("resident.index"),
        "helpline": current_app.config["HELPLINE_PHONE"],
        "previous_when": None,
        "previous_clinic": ctx.previous_clinic,
        "dose_of_course": ctx.product.doses > 1 and reservation.dose_number is not None,
    }
    if ctx.previous_slot is not None and ctx.previous_clinic is not None:
        values["previous_when"] = _when(ctx.previous_slot.starts_at, ctx.previous_clinic, locale)
    if ctx.second is not None:
        second = values["second"] = _second_values(ctx.second, clinic, locale)
        # Dose 1 ended and dose 2 stays: dose 2's own link manages it from now on.
        kept = message.kind in CANCELLING and not ctx.second.changed
        token = ctx.second.reservation.hold_token if kept else reservation.hold_token
        second["manage_url"] = public_url(
            "resident.manage_link",
            token=manage_token_for(current_app.config["SECRET_KEY"], token),
        )
    else:
        values["second"] = None
    return values


def _second_values(second: SecondDose, clinic: Clinic, locale: str) -> dict[str, Any]:
    """What the templates say about dose 2: the same words, time and place as for dose 1."""
    code = second.reservation.confirmation_code or ""
    return {
        "service_name": str(
            translate(products.describe_reservation(second.product, second.reservation))
        ),
        "clinic": second.clinic,
        "address": _address(second.clinic),
        "when": _when(second.slot.starts_at, second.clinic, locale),
        "when_short": _when(second.slot.starts_at, second.clinic, locale, short=True),
        "code": format_code(code) if code else "",
        "changed": second.changed,
        "moved": second.previous_starts_at is not None,
        "previous_when": (
            _when(second.previous_starts_at, second.clinic, locale)
            if second.previous_starts_at
            else None
        ),
        "same_clinic": second.clinic.id == clinic.id,
    }


def _subject(kind: str, values: dict[str, Any]) -> str:
    when = values["when_short"]
    if kind == MessageKind.CONFIRMATION:
        return str(
            gettext(
                "You are booked: %(service)s, %(when)s", service=values["service_name"], when=when
            )
        )
    if kind == MessageKind.REMINDER:
        if values["dose_of_course"]:  # which dose: the service's words say "dose 2 of 2"
            return str(
                gettext(
                    "Reminder: %(service)s, %(when)s", service=values["service_name"], when=when
                )
            )
        return str(gettext("Reminder: your appointment is %(when)s", when=when))
    if kind == MessageKind.RESCHEDULE:
        return str(gettext("Your appointment has moved to %(when)s", when=when))
    if kind == MessageKind.CLINIC_CANCELLATION:
        return str(
            gettext(
                "%(clinic)s cancelled your appointment on %(when)s",
                clinic=values["clinic"].name,
                when=when,
            )
        )
    second = values["second"]
    if second and second["changed"]:
        return str(
            gettext(
                "Your appointments on %(when)s and %(second_when)s are cancelled",
                when=when,
                second_when=second["when_short"],
            )
        )
    return str(gettext("Your appointment on %(when)s is cancelled", when=when))


def _description(code: str, url: str) -> str:
    return str(
        gettext(
            "Confirmation code %(code)s. Bring this code and a form of identification if you "
            "have one. Change or cancel: %(url)s",
            code=code,
            url=url,
        )
    )


def _event(
    reservation: Reservation, slot: Slot, words: dict[str, Any], *, sequence: int, ended: bool
) -> Event:
    """One appointment's calendar event; ``words`` are its template values (code, link...)."""
    return Event(
        uid=f"reservation-{reservation.id}@{public_host()}",
        sequence=sequence,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        summary=f"{words['service_name']}, {words['clinic'].name}",
        location=words["address"],
        description=_description(words["code"], words["manage_url"]),
        url=None if ended else words["manage_url"],
        cancelled=ended,
    )


def _calendar(ctx: MessageContext, values: dict[str, Any], *, now: datetime) -> str:
    cancelled = ctx.message.kind in CANCELLING
    # Each change must outrank the last: moves raise the revision, a cancellation ends it.
    sequence = ctx.message.revision + (1 if cancelled else 0)
    events = [_event(ctx.reservation, ctx.slot, values, sequence=sequence, ended=cancelled)]
    if ctx.second is not None:
        # Dose 2's own event and UID (its sequence counted on its own revisions, notices.py);
        # it ends with dose 1 only when it was cancelled too.
        second = ctx.second
        events.append(
            _event(
                second.reservation,
                second.slot,
                values["second"],
                sequence=second.sequence,
                ended=cancelled and second.changed,
            )
        )
    return calendar_ics(events, now=now)


def message_locale(ctx: MessageContext) -> str:
    """The resident's language: the one stored on the reservation when it was booked."""
    locale = ctx.reservation.locale or ctx.message.locale
    return locale if locale in LANGUAGES else DEFAULT_LOCALE


def render_message(ctx: MessageContext, *, now: datetime) -> Rendered:
    """Render a message for its channel in the resident's language."""
    with force_locale(message_locale(ctx)):
        values = template_values(ctx)
        subject = _subject(ctx.message.kind, values)
        if ctx.message.channel == "sms":
            text = render_template("messages/sms.txt", **values)
            return Rendered(subject=subject, text=" ".join(text.split()))
        live = ctx.message.kind not in CANCELLING
        qr = qr_png(ctx.reservation.confirmation_code or "") if live else None
        return Rendered(
            subject=subject,
            text=render_template("messages/email.txt", **values).strip() + "\n",
            html=render_template("messages/email.html", has_qr=qr is not None, **values),
            ics=_calendar(ctx, values, now=now) if ctx.message.kind in WITH_CALENDAR else None,
            qr_png=qr,
        )


def booking_calendar(
    session: Session,
    bookings: list[tuple[Reservation, Slot, Clinic]],
    *,
    change_url: str,
    now: datetime,
) -> str:
    """A calendar file of a booking's appointments (a course: both), to download from a page.

    Each event has the same UID as in the messages' attachments, so a calendar that has both
    keeps one entry. It links to the look-up page, not the private manage link: calendar files
    are synced and shared.
    """
    events = [
        Event(
            uid=f"reservation-{reservation.id}@{public_host()}",
            sequence=0,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            summary=f"{translate(products.describe_booking(session, reservation))}, {clinic.name}",
            location=_address(clinic),
            description=_description(format_code(reservation.confirmation_code or ""), change_url),
            url=change_url,
            cancelled=False,
        )
        for reservation, slot, clinic in bookings
    ]
    return calendar_ics(events, now=now)
