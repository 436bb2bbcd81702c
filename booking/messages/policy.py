"""The notice policy: the configured reminders, and the language of the page that changed it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import get_locale

from booking.services.notices import NoticePolicy


def notice_policy() -> NoticePolicy:
    """What messages a booking change made in this request writes, and in which language."""
    locale = get_locale()
    return notice_policy_from_config(current_app.config, locale=str(locale) if locale else "en")


def notice_policy_from_config(config: Mapping[str, Any], *, locale: str = "en") -> NoticePolicy:
    """The configured reminders, for changes made outside a request (CLI, jobs)."""
    return NoticePolicy(reminder_hours=tuple(config["REMINDER_HOURS"]), locale=locale)
