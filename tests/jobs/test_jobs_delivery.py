"""Delivery: email through a real SMTP server, SMS through an HTTP API stub, retries, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import png
import pytest
import qrcode

from booking.db import db
from booking.jobs.queue import get_queue, message_job_id
from booking.services import moves, reservations
from booking.services.outbox import backoff_seconds
from tests.conftest import rolled_back_app
from tests.jobs.support import basic_auth, book, messages, run_jobs, servers


@pytest.fixture
def delivering(database_url, clock, tmp_path):
    """A rolled-back app wired to a local SMTP server and SMS API stub."""
    with servers() as (smtp, sms):
        overrides = {**smtp.config(), **sms.config(), "MESSAGE_MAX_ATTEMPTS": 3}
        overrides["MAIL_FROM"] = "FairSlot <bookings@fairslot.example>"
        with rolled_back_app(database_url, clock, tmp_path, **overrides) as app:
            yield app, smtp, sms


def calendar_of(mail):
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    assert parts[0].get_filename() == "appointment.ics"
    calendar = icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))
    (event,) = calendar.walk("VEVENT")
    return event


def qr_modules(png_bytes: bytes, box: int = 8) -> list[list[bool]]:
    """Read a QR PNG back into its grid of dark modules (sampling each module's centre)."""
    width, height, rows, _ = png.Reader(bytes=png_bytes).asRGBA8()
    pixels = [list(row) for row in rows]
    size = width // box
    return [
        [pixels[y * box + box // 2][(x * box + box // 2) * 4] < 128 for x in range(size)]
        for y in range(height // box)
    ]


def test_a_confirmation_email_goes_through_smtp_with_calendar_and_qr_code(delivering, now):
    app, smtp, _ = delivering
    booked = book(app, now, phone=None)
    assert run_jobs(app)
    (mail,) = smtp.messages
    assert smtp.envelopes[0].mail_from == "bookings@fairslot.example"
    assert smtp.envelopes[0].rcpt_tos == ["resident@example.com"]
    assert mail["To"] == "resident@example.com"
    # Python folds a long subject holding "(...)" onto a continuation line: unfolded, it
    # starts with that line's space, which mail readers drop.
    assert mail["Subject"].strip().startswith("You are booked: COVID-19 vaccine (Janssen), ")
    text = mail.get_body(("plain",)).get_content()
    code = booked["code"]
    display = f"{code[:4]}-{code[4:]}"
    clinic = booked["clinic"]
    for expected in (display, clinic.name, clinic.address_line, "identification", "/manage/"):
        assert expected in text
    assert "Thursday, March 5, 2026, 8:00 AM EST" in text  # the clinic's local time
    html = mail.get_body(("html",)).get_content()
    assert display in html and 'src="cid:fairslot-qr"' in html

    event = calendar_of(mail)
    assert event.decoded("DTSTART") == booked["slot"].starts_at
    assert event.decoded("DTEND") == booked["slot"].starts_at + timedelta(minutes=15)
    assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 0
    assert clinic.name in str(event["SUMMARY"])
    assert display in str(event["DESCRIPTION"])
    assert clinic.address_line in str(event["LOCATION"])

    (qr_part,) = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert qr_part["Content-ID"] == "<fairslot-qr>"
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    expected.add_data(code)
    expected.make(fit=True)
    assert qr_modules(qr_part.get_payload(decode=True)) == expected.get_matrix()

    (row,) = messages(app, kind="confirmation")
    assert (row.status, row.attempts) == ("sent", 1)
    assert row.provider_message_id == mail["Message-ID"]


def test_reschedule_and_cancellation_emails_update_the_same_calendar_entry(delivering, now):
    app, smtp, _ = delivering
    booked = book(app, now, phone=None)
    run_jobs(app)
    with app.app_context():
        db.transaction(
            lambda s: moves.reschedule_reservation(
                s, booked["reservation_id"], booked["other_slot"].id, now=now
            )
        )
        run_jobs(app)
        db.transaction(
            lambda s: reservations.cancel_reservation(s, booked["reservation_id"], now=now)
        )
        run_jobs(app)
    confirmed, moved, cancelled = (calendar_of(m) for m in smtp.messages)
    assert len({str(e["UID"]) for e in (confirmed, moved, cancelled)}) == 1
    assert [int(e["SEQUENCE"]) for e in (confirmed, moved, cancelled)] == [0, 1, 2]
    assert moved.decoded("DTSTART") == booked["other_slot"].starts_at
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert "moved" in smtp.messages[1]["Subject"]
    assert "cancelled" in smtp.messages[2]["Subject"]


def test_an_sms_goes_to_the_api_with_credentials_and_an_idempotency_key(delivering, now):
    app, _, sms = delivering
    booked = book(app, now, email_address=None)
    run_jobs(app)
    (request,) = sms.requests
    assert request["auth"] == basic_auth("AC1", "secret-token")
    assert request["form"]["To"] == "+16175550123"
    assert request["form"]["From"] == "+16175550000"
    body = request["form"]["Body"]
    assert booked["code"][:4] in body and "/manage/" in body and booked["clinic"].name in body
    (row,) = messages(app, kind="confirmation")
    assert request["key"].startswith(f"fairslot-{row.id}-")
    assert row.status == "sent" and row.provider_message_id.startswith("SM")


def test_provider_errors_are_retried_with_backoff_then_sent_once(delivering, now, later):
    app, _, sms = delivering
    book(app, now, email_address=None)
    sms.fail(1, status=503)
    run_jobs(app)
    (row,) = messages(app, kind="confirmation")
    assert (row.status, row.attempts) == ("queued", 1)
    assert "503" in row.last_error
    assert row.next_attempt_at == now + timedelta(seconds=backoff_seconds(1, 30))
    # RQ holds the retry on its schedule for the same backoff, by its own clock.
    with app.app_context():
        at = get_queue().scheduled_job_registry.get_scheduled_time(message_job_id(row.id))
    wait = (at - datetime.now(UTC)).total_seconds()
    assert 0 < wait <= backoff_seconds(1, 30)
    later(seconds=backoff_seconds(1, 30))
    run_jobs(app, until=at)
    (row,) = messages(app, kind="confirmation")
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(sms.requests) == 2 and len(sms.delivered) == 1


def test_a_message_that_keeps_failing_is_marked_failed_and_an_admin_can_retry_it(
    delivering, now, later
):
    app, _, sms = delivering
    book(app, now, email_address=None)
    sms.fail(3, status=500)
    for attempt in range(1, 4):
        run_jobs(app, until=datetime.now(UTC) + timedelta(hours=2))
        later(seconds=backoff_seconds(attempt, 30))
    (row,) = messages(app, kind="confirmation")
    assert (row.status, row.attempts) == ("failed", 3)
    assert len(sms.requests) == 3 and not sms.delivered

    runner = app.test_cli_runner()
    listed = runner.invoke(args=["messages", "list", "--status", "failed"])
    assert listed.exit_code == 0, listed.output
    assert f"{row.id:>7}  failed" in listed.output and "500" in listed.output
    retried = runner.invoke(args=["messages", "retry", str(row.id)])
    assert retried.exit_code == 0, retried.output
    again = runner.invoke(args=["messages", "retry", str(row.id)])
    assert again.exit_code == 1 and "Only a failed message" in again.output
    run_jobs(app)
    (row,) = messages(app, kind="confirmation")
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(sms.delivered) == 1


def test_a_permanent_refusal_fails_at_once(delivering, now):
    app, _, sms = delivering
    book(app, now, email_address=None)
    sms.fail(1, status=400)  # e.g. not a mobile number
    run_jobs(app)
    (row,) = messages(app, kind="confirmation")
    assert (row.status, row.attempts) == ("failed", 1)
    assert "400" in row.last_error


def test_without_a_provider_production_fails_visibly_instead_of_pretending(
    database_url, clock, tmp_path, now
):
    production = {
        "FAIRSLOT_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "PUBLIC_URL": "https://fairslot.test",
    }
    with rolled_back_app(database_url, clock, tmp_path, **production) as app:
        book(app, now, email_address=None)
        run_jobs(app)
        (row,) = messages(app, kind="confirmation")
    assert row.status == "failed"
    assert "FAIRSLOT_SMS_API_URL" in row.last_error


def test_calendar_lines_are_folded_and_escaped_without_splitting_characters():
    from booking.messages.ics import appointment_ics

    description = "Ça va; bring ID, please.\nÉcole Élémentaire — " + "é" * 80
    start = datetime(2026, 3, 5, 13, 0, tzinfo=UTC)
    ics = appointment_ics(
        uid="reservation-1@fairslot.example",
        sequence=3,
        starts_at=start,
        ends_at=start + timedelta(minutes=15),
        summary="COVID-19 vaccine, Clinique Saint-Édouard",
        location="1 Rue, Boston, MA",
        description=description,
        url=None,
        cancelled=True,
        now=start,
    )
    lines = ics.encode().split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    for line in lines:
        line.decode()  # raises UnicodeDecodeError if a fold cut a character in two
    (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
    assert str(event["DESCRIPTION"]) == description
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 3
