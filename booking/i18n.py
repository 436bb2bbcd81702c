"""Languages and locale-aware formatting of dates and times in each clinic's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = {"en": "English"}
babel = Babel()


def select_locale() -> str:
    """Pick the resident's language from the browser's preference."""
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def init_app(app: Flask) -> None:
    """Attach Flask-Babel and the template filters that format times for residents."""
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale

    @app.template_filter("local_time")
    def local_time(value: datetime, tz: str) -> str:
        return format_time(value, "short", tzinfo=ZoneInfo(tz), locale=get_locale())

    @app.template_filter("local_datetime")
    def local_datetime(value: datetime, tz: str) -> str:
        moment = format_datetime(
            value, "EEEE, MMMM d, y, h:mm a", tzinfo=ZoneInfo(tz), locale=get_locale()
        )
        return str(moment)

    @app.template_filter("local_date")
    def local_date(value: date, fmt: str = "full") -> str:
        return format_date(value, fmt, locale=get_locale())

    @app.template_filter("short_date")
    def short_date(value: date) -> str:
        return format_date(value, "EEE, MMM d", locale=get_locale())
