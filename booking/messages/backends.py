"""Delivery: SMTP for email, a Twilio-compatible HTTP API for SMS, and the demo outbox.

Which one is used follows the configuration: ``FAIRSLOT_SMTP_HOST`` and
``FAIRSLOT_SMS_API_URL`` turn on the real ones; without them, demo, development and test runs
deliver to the demo outbox (the /demo/outbox page shows what was sent) and production
refuses, so a missing setting shows up as failed messages instead of silence.

Every send carries a key derived from the message id (the email's Message-ID, the SMS API's
idempotency header), so a send repeated after a crash can be recognised as the same message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any, cast

from booking.messages.render import Rendered
from booking.models import OutboxMessage

DEMO_ENVIRONMENTS = ("demo", "development", "test")


class DeliveryError(Exception):
    """The provider did not take the message. ``permanent``: trying again will not help."""

    def __init__(self, detail: str, *, permanent: bool) -> None:
        super().__init__(detail)
        self.permanent = permanent


def idempotency_key(secret_key: str, message_id: int) -> str:
    """A stable key per message and installation (two test databases never share one)."""
    tag = hmac.new(secret_key.encode(), f"outbox:{message_id}".encode(), hashlib.sha256)
    return f"fairslot-{message_id}-{tag.hexdigest()[:16]}"


def default_sender(host: str) -> str:
    """The From address used when FAIRSLOT_MAIL_FROM is not set."""
    return f"FairSlot <no-reply@{host}>"


def compose_email(
    rendered: Rendered, *, to: str, sender: str, key: str, host: str, now: datetime
) -> EmailMessage:
    """Build the MIME message: text and HTML (with the QR code inline) and the .ics attached."""
    email = EmailMessage()
    email["Subject"] = rendered.subject
    email["From"] = sender
    email["To"] = to
    email["Date"] = formatdate(now.timestamp(), usegmt=True)
    # The same Message-ID on a resend lets mail systems drop the duplicate.
    email["Message-ID"] = f"<{key}@{host}>"
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(rendered.text)
    if rendered.html is not None:
        email.add_alternative(rendered.html, subtype="html")
        if rendered.qr_png is not None:
            html_part = cast(EmailMessage, list(email.iter_parts())[-1])
            html_part.add_related(
                rendered.qr_png,
                maintype="image",
                subtype="png",
                cid="<fairslot-qr>",
                filename="confirmation-code.png",
            )
    if rendered.ics is not None:
        email.add_attachment(
            rendered.ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="appointment.ics",
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    return email


def _smtp_permanent(code: int) -> bool:
    return 500 <= code < 600


def send_smtp(config: Mapping[str, Any], email: EmailMessage) -> str:
    """Hand an email to the configured SMTP server; return its Message-ID."""
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    timeout = float(config["DELIVERY_TIMEOUT_SECONDS"])
    security = config["SMTP_SECURITY"]
    envelope_from = parseaddr(str(email["From"]))[1]
    try:
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(email, from_addr=envelope_from, to_addrs=[str(email["To"])])
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"SMTP refused the recipient: {exc.recipients}",
            permanent=all(_smtp_permanent(c) for c in codes),
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        # Credentials are configuration: retry, so fixing them lets the message through.
        raise DeliveryError(
            f"SMTP authentication failed ({exc.smtp_code})", permanent=False
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP error {exc.smtp_code}: {exc.smtp_error!r}",
            permanent=_smtp_permanent(exc.smtp_code),
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP unavailable: {exc!r}", permanent=False) from None
    return str(email["Message-ID"])


# HTTP statuses that mean "this request will never succeed" (e.g. Twilio's 400 for a bad
# number). 401/403 are credentials (configuration) and 409/429/5xx are transient: retried.
_PERMANENT_HTTP = {400, 404, 410, 422}


def send_sms(config: Mapping[str, Any], *, to: str, body: str, key: str) -> str:
    """POST one message to the Twilio-compatible Messages API; return the provider's id."""
    form = {"To": to, "Body": body}
    if config.get("SMS_FROM"):
        form["From"] = config["SMS_FROM"]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    if config.get("SMS_ACCOUNT_SID"):
        user = f"{config['SMS_ACCOUNT_SID']}:{config.get('SMS_AUTH_TOKEN') or ''}"
        headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
    if config.get("SMS_IDEMPOTENCY_HEADER"):
        headers[config["SMS_IDEMPOTENCY_HEADER"]] = key
    request = urllib.request.Request(  # noqa: S310 - the URL is operator configuration
        config["SMS_API_URL"],
        data=urllib.parse.urlencode(form).encode(),
        headers=headers,
        method="POST",
    )
    timeout = float(config["DELIVERY_TIMEOUT_SECONDS"])
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            raw = reply.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        detail = exc.read(2000).decode(errors="replace")
        raise DeliveryError(
            f"SMS API answered {exc.code}: {detail}", permanent=exc.code in _PERMANENT_HTTP
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"SMS API unavailable: {exc!r}", permanent=False) from None
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = {}
    sid = answer.get("sid") if isinstance(answer, dict) else None
    return str(sid or key)


def backend_for(config: Mapping[str, Any], channel: str) -> str | None:
    """``smtp``/``http`` when configured, ``demo`` outside production, else None (not sent)."""
    if channel == "email" and config.get("SMTP_HOST"):
        return "smtp"
    if channel == "sms" and config.get("SMS_API_URL"):
        return "http"
    if config["FAIRSLOT_ENV"] in DEMO_ENVIRONMENTS:
        return "demo"
    return None


def deliver(
    config: Mapping[str, Any],
    message: OutboxMessage,
    rendered: Rendered,
    *,
    host: str,
    now: datetime,
) -> str:
    """Send a rendered message over its channel; return the provider's id for it."""
    key = idempotency_key(config["SECRET_KEY"], message.id)
    backend = backend_for(config, message.channel)
    if backend is None:
        setting = "FAIRSLOT_SMTP_HOST" if message.channel == "email" else "FAIRSLOT_SMS_API_URL"
        raise DeliveryError(
            f"no {message.channel} delivery configured: set {setting}", permanent=True
        )
    if backend == "demo":
        # The demo outbox: the message row itself is what /demo/outbox lists.
        return f"demo-{key}"
    if backend == "http":
        return send_sms(config, to=message.recipient, body=rendered.text, key=key)
    sender = config.get("MAIL_FROM") or default_sender(host)
    email = compose_email(
        rendered, to=message.recipient, sender=sender, key=key, host=host, now=now
    )
    return send_smtp(config, email)
