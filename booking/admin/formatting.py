"""Numbers, days and times in the admin console, the reader's locale's way (CLDR)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_skeleton, format_time, get_datetime_format
from babel.numbers import format_decimal, format_percent

from booking.admin import bp
from booking.cldr import cldr_locale
from booking.i18n import current_locale
from booking.services.dashboard import STATE_TIMEZONE


def _plain(text: str) -> str:
    # CLDR puts narrow no-break spaces before AM/PM and in some groupings; a plain no-break
    # space reads the same and keeps SVG text in fonts that lack the narrow one.
    return text.replace("\u202f", "\u00a0")


@bp.app_template_filter("admin_number")
def number(value: int) -> str:
    """A count with the locale's digit grouping: 12,345 (en), 12.345 (es)."""
    return _plain(format_decimal(value, locale=cldr_locale(current_locale())))


@bp.app_template_filter("admin_percent")
def percent(value: int) -> str:
    """A whole percentage the locale's way: 75% (en), 75 % (es)."""
    return _plain(format_percent(value / 100, locale=cldr_locale(current_locale())))


def _hour_cycle(locale: Locale) -> str:
    """``h`` where the locale tells time on a 12-hour clock, ``H`` where on a 24-hour one."""
    return "h" if "h" in str(locale.time_formats["short"].pattern) else "H"


@bp.app_template_filter("admin_hour")
def hour_label(moment: datetime) -> str:
    """An hour of the state's day: 10 AM (en), 10 (es)."""
    local = moment.astimezone(ZoneInfo(STATE_TIMEZONE))
    locale = cldr_locale(current_locale())
    return _plain(format_skeleton(_hour_cycle(locale), local, locale=locale))


@bp.app_template_filter("admin_minute")
def minute_label(moment: datetime | float) -> str:
    """A time of the state's day to the minute: 10:42 AM (from a datetime or epoch seconds)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return _plain(
        format_time(
            moment, "short", tzinfo=ZoneInfo(STATE_TIMEZONE), locale=cldr_locale(current_locale())
        )
    )


@bp.app_template_filter("admin_day")
def day_label(day: date) -> str:
    """A day, short: Tue, Mar 4."""
    return _plain(format_skeleton("MMMEd", day, locale=cldr_locale(current_locale())))


def day_axis_label(day: date) -> str:
    """A day, short, for a chart's axis: Mar 4 (en), 4 mar (es)."""
    return _plain(format_skeleton("MMMd", day, locale=cldr_locale(current_locale())))


@bp.app_template_filter("admin_moment")
def moment_label(moment: datetime) -> str:
    """A day and time to the second in the state's zone: Mar 4, 2026, 10:42:05 AM."""
    local = moment.astimezone(ZoneInfo(STATE_TIMEZONE))
    locale = cldr_locale(current_locale())
    day = format_skeleton("yMMMd", local, locale=locale)
    clock = format_skeleton(_hour_cycle(locale) + "ms", local, locale=locale)
    # CLDR's glue, e.g. "{1}, {0}": {1} is the day, {0} the time.
    glue = str(get_datetime_format("medium", locale=locale)).replace("'", "")
    return _plain(glue.replace("{1}", day).replace("{0}", clock))
