"""The settings of messages and workers, as rows that ``booking.config`` turns into Settings.

They live here, beside the code that uses them, and import nothing from the app, so the config
module can list them without an import cycle. README's settings table documents each one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _smtp_security(value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in {"none", "starttls", "tls"}:
        raise ValueError("expected none, starttls or tls")
    return lowered


def _hours(value: str) -> tuple[int, ...]:
    """A comma-separated list of whole hours, e.g. ``24,2``; empty means none."""
    hours = tuple(sorted({int(part) for part in value.split(",") if part.strip()}, reverse=True))
    if any(not 1 <= h <= 24 * 14 for h in hours):
        raise ValueError("each value must be a whole number of hours from 1 to 336")
    return hours


def _housekeeping_seconds(value: str) -> int:
    """Seconds between housekeeping runs, 1 to 600: the relay looks 15 minutes ahead."""
    seconds = int(value)
    if not 1 <= seconds <= 600:
        raise ValueError("expected 1 to 600 seconds (the relay schedules 15 minutes ahead)")
    return seconds


MESSAGE_SETTINGS: tuple[tuple[str, str, Any, Callable[[str], Any], str], ...] = (
    (
        "FAIRSLOT_SMTP_HOST",
        "SMTP_HOST",
        None,
        str,
        "SMTP server for email. Unset: email goes to the demo outbox in demo, development and "
        "test, and is not sent in production (messages fail, visibly, until it is set).",
    ),
    ("FAIRSLOT_SMTP_PORT", "SMTP_PORT", 587, int, "SMTP port."),
    ("FAIRSLOT_SMTP_USERNAME", "SMTP_USERNAME", None, str, "SMTP user, if it needs one."),
    ("FAIRSLOT_SMTP_PASSWORD", "SMTP_PASSWORD", None, str, "SMTP password."),
    (
        "FAIRSLOT_SMTP_SECURITY",
        "SMTP_SECURITY",
        "starttls",
        _smtp_security,
        "`starttls` (upgrade a plain connection), `tls` (TLS from the start, usually port 465) "
        "or `none` (only for a relay on a trusted network).",
    ),
    (
        "FAIRSLOT_MAIL_FROM",
        "MAIL_FROM",
        None,
        str,
        "The From address of emails. Default: `FairSlot <no-reply@HOST>`, HOST from "
        "`FAIRSLOT_PUBLIC_URL`.",
    ),
    (
        "FAIRSLOT_SMS_API_URL",
        "SMS_API_URL",
        None,
        str,
        "A Twilio-compatible Messages endpoint, e.g. `https://api.twilio.com/2010-04-01/"
        "Accounts/AC.../Messages.json`. Unset: like `FAIRSLOT_SMTP_HOST`, for text messages.",
    ),
    (
        "FAIRSLOT_SMS_ACCOUNT_SID",
        "SMS_ACCOUNT_SID",
        None,
        str,
        "The SMS account id (HTTP basic-auth user).",
    ),
    (
        "FAIRSLOT_SMS_AUTH_TOKEN",
        "SMS_AUTH_TOKEN",
        None,
        str,
        "The SMS account's secret (HTTP basic-auth password).",
    ),
    ("FAIRSLOT_SMS_FROM", "SMS_FROM", None, str, "The sending number, E.164."),
    (
        "FAIRSLOT_SMS_IDEMPOTENCY_HEADER",
        "SMS_IDEMPOTENCY_HEADER",
        "Idempotency-Key",
        str,
        "Header carrying the per-message idempotency key, so a send repeated after a crash is "
        "delivered once by providers that honour it. Empty: not sent.",
    ),
    (
        "FAIRSLOT_DELIVERY_TIMEOUT_SECONDS",
        "DELIVERY_TIMEOUT_SECONDS",
        15,
        int,
        "How long to wait for the SMTP server or the SMS API before trying again later.",
    ),
    (
        "FAIRSLOT_REMINDER_HOURS",
        "REMINDER_HOURS",
        (24, 2),
        _hours,
        "When to remind residents, in hours before the appointment, comma-separated "
        "(`24,2`). Empty: no reminders.",
    ),
    (
        "FAIRSLOT_MESSAGE_MAX_ATTEMPTS",
        "MESSAGE_MAX_ATTEMPTS",
        8,
        int,
        "Attempts at a message before it is marked failed for admins to see and retry.",
    ),
    (
        "FAIRSLOT_MESSAGE_RETRY_SECONDS",
        "MESSAGE_RETRY_SECONDS",
        30,
        int,
        "Wait before the first retry; it doubles after each failure, up to an hour.",
    ),
    (
        "FAIRSLOT_MESSAGE_LEASE_SECONDS",
        "MESSAGE_LEASE_SECONDS",
        300,
        int,
        "How long one send may take (also the job timeout). A send claimed longer ago than "
        "this is presumed dead with its worker and is retried, with the same idempotency key.",
    ),
    (
        "FAIRSLOT_HOUSEKEEPING_SECONDS",
        "HOUSEKEEPING_SECONDS",
        60,
        _housekeeping_seconds,
        "How often the workers relay unsent messages (and schedule the reminders due within "
        "15 minutes), expire old holds and advance the waiting room; 1 to 600.",
    ),
)
