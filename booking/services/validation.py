"""Parsing what residents and API clients send, with one clear message per field.

The HTML forms and the JSON API share these parsers, so both refuse the same things with the
same words. Values may arrive as any JSON type; anything that is not what we expect is an
error for that field, never an exception that escapes as a 500.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime

from booking.services.errors import InvalidInput
from booking.services.people import Person
from booking.services.text import N_, Msg

NAME_MAX = 100
EMAIL_MAX = 254
# The years any date may name: births from 1900, nothing planned past 2100.
MIN_YEAR, MAX_YEAR = 1900, 2100
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_ZIP_RE = re.compile(r"^\d{5}$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_US_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _text(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise TypeError
    return raw.strip()


def parse_date(raw: object, *, field: str = "date") -> date:
    """Parse YYYY-MM-DD (or MM/DD/YYYY) into a real calendar date from 1900 to 2100."""
    day = _calendar_date(raw, field=field)
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        # Nothing FairSlot keeps lies outside these years, and a day next to date.max or
        # date.min overflows wherever a date is turned into the next midnight.
        raise InvalidInput(N_("Invalid date."), errors={field: N_("Check the year.")})
    return day


def _calendar_date(raw: object, *, field: str) -> date:
    """Parse YYYY-MM-DD (or MM/DD/YYYY) into a real calendar date, refusing 2021-02-30."""
    try:
        text = _text(raw)
    except TypeError:
        raise InvalidInput(
            N_("Invalid date."), errors={field: N_("Enter a date as text.")}
        ) from None
    if not text:
        raise InvalidInput(N_("Missing date."), errors={field: N_("Enter a date.")})
    match = _ISO_DATE_RE.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _US_DATE_RE.match(text)
        if not match:
            raise InvalidInput(
                N_("Invalid date."),
                errors={field: N_("Enter the date like 1950-04-27 or 04/27/1950.")},
            )
        month, day, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise InvalidInput(
            N_("Invalid date."), errors={field: N_("That date does not exist.")}
        ) from None


def parse_birth_date(raw: object, *, today: date, field: str = "date_of_birth") -> date:
    """Parse a date of birth that is in the past and after 1900."""
    born = _calendar_date(raw, field=field)  # 2999 is better told "in the past" than "the year"
    if born > today:
        raise InvalidInput(N_("Invalid date of birth."), errors={field: N_("Must be in the past.")})
    if born.year < 1900:
        raise InvalidInput(N_("Invalid date of birth."), errors={field: N_("Check the year.")})
    return born


def parse_zip(raw: object, *, field: str = "zip") -> str:
    """Parse a 5-digit ZIP code (ZIP+4 is accepted and shortened)."""
    text = raw.strip() if isinstance(raw, str) else ""
    text = text[:5] if re.match(r"^\d{5}-\d{4}$", text) else text
    if not _ZIP_RE.match(text):
        raise InvalidInput(N_("Invalid ZIP code."), errors={field: N_("Enter a 5-digit ZIP code.")})
    return text


def parse_int(raw: object, *, field: str, low: int, high: int) -> int:
    """Parse an integer within [low, high] from a string or JSON number."""
    if isinstance(raw, bool):
        raw = None
    value: int | None = None
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 2**53:
        raw = int(raw)  # JSON has one kind of number: 7.0 is the integer 7
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and re.fullmatch(r"\s*\d{1,9}\s*", raw):
        value = int(raw)
    if value is None or not low <= value <= high:
        raise InvalidInput(
            N_("Invalid number."),
            errors={
                field: N_("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
            },
        )
    return value


# Whole sentences per name field, so each language can word them its own way.
_NAME_TEXT = {
    "first_name": {
        "type": N_("Enter your first name as text."),
        "missing": N_("Enter your first name."),
        "long": N_("Your first name must be %(num)d characters or fewer."),
        "control": N_("Your first name contains characters we cannot accept."),
        "letters": N_("Your first name must contain letters."),
    },
    "last_name": {
        "type": N_("Enter your last name as text."),
        "missing": N_("Enter your last name."),
        "long": N_("Your last name must be %(num)d characters or fewer."),
        "control": N_("Your last name contains characters we cannot accept."),
        "letters": N_("Your last name must contain letters."),
    },
}


def _name(raw: object, field: str, errors: dict[str, str]) -> str:
    text_for = _NAME_TEXT[field]
    try:
        text = _text(raw)
    except TypeError:
        errors[field] = text_for["type"]
        return ""
    if not text:
        errors[field] = text_for["missing"]
    elif len(text) > NAME_MAX:
        # Msg, not N_: the id is a variable here, so nothing for pybabel to extract.
        errors[field] = Msg(text_for["long"].msgid, {"num": NAME_MAX})
    elif _has_control(text):
        errors[field] = text_for["control"]
    elif not any(ch.isalpha() for ch in text):
        errors[field] = text_for["letters"]
    return text or ""


def _has_control(text: str) -> bool:
    # Control, format and surrogate characters (NUL among them) have no place in a name or
    # address, and PostgreSQL refuses NUL outright.
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def normalize_phone(raw: object) -> str | None:
    """Return a US phone number as E.164 (+1XXXXXXXXXX), or None if it is not one."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    if re.search(r"[^\d\s()+.\-]", raw):
        return None
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01" or digits[3] in "01":
        return None
    return "+1" + digits


def parse_person(raw: Mapping[str, object], *, today: date, require_attestation: bool) -> Person:
    """Validate a resident's details; raise InvalidInput naming every bad field at once."""
    errors: dict[str, str] = {}
    first = _name(raw.get("first_name"), "first_name", errors)
    last = _name(raw.get("last_name"), "last_name", errors)
    born: date | None = None
    try:
        born = parse_birth_date(raw.get("date_of_birth"), today=today)
    except InvalidInput as exc:
        errors.update(exc.errors)

    phone_raw, email_raw = raw.get("phone"), raw.get("email")
    phone = email = None
    if phone_raw not in (None, ""):
        phone = normalize_phone(phone_raw)
        if phone is None:
            errors["phone"] = N_("Enter a 10-digit US phone number, like 617-555-0123.")
    if email_raw not in (None, ""):
        text = email_raw.strip() if isinstance(email_raw, str) else ""
        if len(text) > EMAIL_MAX or not _EMAIL_RE.match(text) or _has_control(text):
            errors["email"] = N_("Enter an email address like name@example.com.")
        else:
            email = text
    if phone_raw in (None, "") and email_raw in (None, ""):
        errors["phone"] = N_("Enter a phone number or an email address so we can reach you.")

    attested = raw.get("eligibility_attested")
    attested_ok = attested in (True, "1", "on", "yes", "true")
    if require_attestation and not attested_ok:
        errors["eligibility_attested"] = N_("Confirm that you are eligible to book.")

    if errors:
        raise InvalidInput(N_("Please correct the highlighted fields."), errors=errors)
    assert born is not None
    return Person(first, last, born, phone, email, attested_ok)


def parse_iso_datetime(raw: object, *, field: str) -> datetime:
    """Parse an ISO 8601 timestamp with an offset."""
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise InvalidInput(N_("Invalid time."), errors={field: N_("Use ISO 8601 with an offset.")})
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput(N_("Invalid time."), errors={field: N_("Check the year.")})
    return value
