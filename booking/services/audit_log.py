"""Searching the audit log, and its entries' details as lines a person reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.models import AuditEntry, StaffUser
from booking.services.dashboard import STATE_TIMEZONE
from booking.services.text import N_, Msg

PAGE = 50


@dataclass(frozen=True)
class AuditFilters:
    """What to look for; empty fields match everything. Days are the state's calendar days."""

    actor: str = ""  # part of the email
    action: str = ""  # how the action code starts: "clinic." finds every clinic action
    record_type: str = ""
    record_id: str = ""
    day_from: date | None = None
    day_to: date | None = None  # included


@dataclass(frozen=True)
class AuditRow:
    """One entry and who made it (None for a signed-out or deleted actor)."""

    entry: AuditEntry
    email: str | None
    name: str | None


def search(
    session: Session, filters: AuditFilters, *, page: int = 1
) -> tuple[list[AuditRow], bool]:
    """One page of matching entries, newest first, and whether older ones follow."""
    query = select(AuditEntry, StaffUser.email, StaffUser.display_name).outerjoin(
        StaffUser, StaffUser.id == AuditEntry.actor_id
    )
    if filters.actor:
        query = query.where(StaffUser.email.contains(filters.actor.strip().lower()[:254]))
    if filters.action:
        query = query.where(AuditEntry.action.startswith(filters.action.strip()[:60]))
    if filters.record_type:
        query = query.where(AuditEntry.record_type == filters.record_type.strip()[:40])
    if filters.record_id:
        query = query.where(AuditEntry.record_id == filters.record_id.strip()[:64])
    zone = ZoneInfo(STATE_TIMEZONE)
    if filters.day_from:
        query = query.where(AuditEntry.at >= datetime.combine(filters.day_from, time.min, zone))
    if filters.day_to:
        after = filters.day_to + timedelta(days=1)
        query = query.where(AuditEntry.at < datetime.combine(after, time.min, zone))
    page = max(page, 1)
    rows = session.execute(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE).limit(PAGE + 1)
    ).all()
    found = [AuditRow(entry, email, name) for entry, email, name in rows[:PAGE]]
    return found, len(rows) > PAGE


def detail_lines(detail: Mapping[str, Any] | None) -> list[tuple[str, str | Msg]]:
    """An entry's detail as (key, value) lines: nested keys joined, a change as "from → to"."""
    lines: list[tuple[str, str | Msg]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and set(value) == {"from", "to"}:
            change = N_(
                "%(before)s → %(after)s", before=_text(value["from"]), after=_text(value["to"])
            )
            lines.append((prefix, change))
        elif isinstance(value, Mapping) and value:
            for key, inner in value.items():
                walk(f"{prefix} / {_label(key)}" if prefix else _label(key), inner)
        else:
            lines.append((prefix, _text(value)))

    for key, value in (detail or {}).items():
        walk(_label(key), value)
    return lines


def _label(key: object) -> str:
    return str(key).replace("_", " ")


def _text(value: Any) -> str | Msg:
    if value is None or value == "" or value == [] or value == {}:
        return N_("none")
    if isinstance(value, bool):
        return N_("yes") if value else N_("no")
    if isinstance(value, list | tuple):
        return ", ".join(str(_text(v)) for v in value)
    return str(value)
