"""How pages write numbers, codes, phone numbers and birth dates for the reader.

Jinja filters, in the reader's locale where it matters: ``number`` (294597 as "294,597", or
"294.597" in Brazilian Portuguese), ``percent`` ("45%", or "45 %" where that is the custom),
``code`` (a confirmation code in two groups of four, as it is read over the phone), ``phone``
(a US number as "(617) 555-0123", not "+16175550123") and ``birth_date`` (a date and the age
it gives today: "May 21, 1949 (age 77)"); and a message's kind, channel and state in words
(``message_kind``, ``message_channel``, ``message_status``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from flask import Flask
from flask_babel import gettext

from booking.cldr import cldr_locale
from booking.clock import now
from booking.i18n import current_locale, translate
from booking.services.eligibility import age_on
from booking.services.text import N_, Msg
from booking.services.tokens import format_code

_US_PHONE = re.compile(r"^\+1(\d{3})(\d{3})(\d{4})$")
_MESSAGE_KINDS = {
    "confirmation": N_("Confirmation"),
    "reminder": N_("Reminder"),
    "reschedule": N_("New time"),
    "cancellation": N_("Cancellation"),
    "clinic_cancellation": N_("Cancelled by the clinic"),
    "invitation": N_("Invitation"),
    "invitation_ended": N_("Invitation ended: places filled"),
}
_MESSAGE_CHANNELS = {"email": N_("Email"), "sms": N_("Text message")}
_MESSAGE_STATUSES = {
    "queued": N_("Waiting to be sent"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Could not be sent"),
    "cancelled": N_("Not sent: no longer needed"),
}


def number(value: int | float | None) -> str:
    """A number with the reader's digit grouping ("294,597")."""
    if value is None:
        return ""
    return str(format_decimal(value, locale=cldr_locale(current_locale())))


def percent(value: float | None) -> str:
    """A share as a percentage the reader's way ("45%", "45 %"); empty when unknown."""
    if value is None:
        return ""
    return str(format_percent(value, locale=cldr_locale(current_locale())))


def code(value: str | None) -> str:
    """A confirmation code in two groups of four ("ABCD-2345")."""
    return format_code(value) if value and len(value) == 8 else (value or "")


def phone(value: str | None) -> str:
    """A stored US number as people write it ("(617) 555-0123"); others as stored."""
    if not value:
        return ""
    found = _US_PHONE.match(value)
    return f"({found[1]}) {found[2]}-{found[3]}" if found else value


def birth_date(value: date | None) -> str:
    """A date of birth in words with the age it gives today ("May 21, 1949 (age 77)")."""
    if value is None:
        return ""
    words = format_date(value, "long", locale=cldr_locale(current_locale()))
    return str(gettext("%(date)s (age %(age)d)", date=words, age=age_on(value, now().date())))


def local_date_iso(moment: datetime, tz: str) -> str:
    """The calendar day of ``moment`` at a clinic, as a link's ``date`` ("2026-03-03")."""
    return moment.astimezone(ZoneInfo(tz)).date().isoformat()


def dict_without(values: dict[str, str], *names: str) -> dict[str, str]:
    """A link's arguments without some of them (a search without its date)."""
    return {key: value for key, value in values.items() if key not in names}


def _words(labels: dict[str, Msg]) -> Callable[[str], str]:
    def label(value: str) -> str:
        found = labels.get(value)
        return str(translate(found)) if found is not None else value

    return label


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.jinja_env.filters.update(
        number=number,
        percent=percent,
        code=code,
        phone=phone,
        birth_date=birth_date,
        local_date_iso=local_date_iso,
        dict_without=dict_without,
        message_kind=_words(_MESSAGE_KINDS),
        message_channel=_words(_MESSAGE_CHANNELS),
        message_status=_words(_MESSAGE_STATUSES),
    )
