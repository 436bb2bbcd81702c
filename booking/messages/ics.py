"""iCalendar (RFC 5545) events for appointments, written by hand: it is twenty lines.

Each event's UID is its reservation's, and SEQUENCE grows with each change, so a calendar that
imported the confirmation updates the same entry when a reschedule or cancellation arrives. A
two-dose course is one file with two events, one per dose, each with its own reservation's UID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


def _escape(text: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and newlines (RFC 5545 3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line at 75 octets, continuation lines starting with a space (3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(len(data), start + limit)
        # Never split a UTF-8 sequence: back off to the start of a character.
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74  # the leading space counts towards the next line's 75
    return "\r\n ".join(parts)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Event:
    """One appointment in a calendar file."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    url: str | None
    cancelled: bool


def _event_lines(event: Event, now: datetime) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"SEQUENCE:{event.sequence}",
        f"DTSTAMP:{_stamp(now)}",
        f"DTSTART:{_stamp(event.starts_at)}",
        f"DTEND:{_stamp(event.ends_at)}",
        f"SUMMARY:{_escape(event.summary)}",
        f"LOCATION:{_escape(event.location)}",
        f"DESCRIPTION:{_escape(event.description)}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
    ]
    if event.url:
        lines.append(f"URL:{event.url}")
    return [*lines, "END:VEVENT"]


def calendar_ics(events: list[Event], *, now: datetime) -> str:
    """Return a VCALENDAR with one VEVENT per appointment, CRLF line endings, ready to attach."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//FairSlot//Appointments//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for event in events:
        lines += _event_lines(event, now)
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def appointment_ics(
    *,
    uid: str,
    sequence: int,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str,
    description: str,
    url: str | None,
    cancelled: bool,
    now: datetime,
) -> str:
    """Return a VCALENDAR with one VEVENT (one appointment)."""
    event = Event(uid, sequence, starts_at, ends_at, summary, location, description, url, cancelled)
    return calendar_ics([event], now=now)
