"""Languages, choosing the reader's locale, and locale-aware dates in each clinic's time zone.

The locale is, in order: the language the reader picked with the switcher (a cookie), the
browser's Accept-Language, English. Catalogs live in translations/<code>/LC_MESSAGES; a missing
.mo file only means English text (Flask-Babel falls back), never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import (
    format_date,
    format_skeleton,
    format_time,
    get_datetime_format,
)
from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_babel import Babel, get_locale, gettext
from werkzeug.wrappers import Response

from booking.cldr import cldr_locale
from booking.models import LOCALES
from booking.services.text import N_, Msg

# Catalog code -> the language's own name (its endonym), in the order the switcher lists them.
LANGUAGES = {
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "zh_Hans": "简体中文",
    "ht": "Kreyòl ayisyen",
    "vi": "Tiếng Việt",
}
DEFAULT_LOCALE = "en"
COOKIE = "fairslot_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# Chinese written in Traditional characters: we ship only Simplified, so these fall through to
# the reader's next preference rather than being served a script they did not ask for.
_TRADITIONAL_CHINESE = {"hant", "tw", "hk", "mo"}

bp = Blueprint("language", __name__)


def locale_for_tag(tag: str) -> str | None:
    """The shipped catalog code for a BCP 47 language tag (zh-CN -> zh_Hans), or None."""
    parts = tag.strip().lower().replace("_", "-").split("-")
    language, rest = parts[0], set(parts[1:])
    if language == "zh":
        return None if rest & _TRADITIONAL_CHINESE else "zh_Hans"
    return language if language in LANGUAGES else None


def negotiate(preferences: Iterable[tuple[str, float]]) -> str:
    """The first shipped language among the browser's (tag, quality) preferences, else en."""
    ranked = sorted(
        ((quality, -i, tag) for i, (tag, quality) in enumerate(preferences) if quality > 0),
        reverse=True,
    )
    for _quality, _order, tag in ranked:
        code = locale_for_tag(tag)
        if code is not None:
            return code
    return DEFAULT_LOCALE


def select_locale() -> str:
    """The reader's language: their explicit choice, then the browser's, then English."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    return negotiate(request.accept_languages)


def current_locale() -> str:
    """The catalog code of the locale in force (in a request or under force_locale)."""
    locale = get_locale()
    code = str(locale) if locale is not None else DEFAULT_LOCALE
    return code if code in LANGUAGES else DEFAULT_LOCALE


def bcp47(code: str) -> str:
    """The BCP 47 tag for a catalog code, for lang/hreflang attributes (zh_Hans -> zh-Hans)."""
    return code.replace("_", "-")


def translate(value: object) -> object:
    """Translate text marked with ``N_`` in the current locale, then fill in its values."""
    if not isinstance(value, Msg):
        return value
    # A value may itself be marked text (a vaccine's name inside a sentence): translate it too.
    params = {name: translate(param) for name, param in value.params.items()}
    try:
        return gettext(value.msgid, **params)
    except (KeyError, ValueError, TypeError):
        # A translation with broken placeholders must not break the page: show the English.
        return str(value)


def translate_all(errors: dict[str, str]) -> dict[str, str]:
    """Translate every message of a field -> message mapping (for JSON answers)."""
    return {field: str(translate(message)) for field, message in errors.items()}


def local_path(raw: str | None) -> str | None:
    """``raw`` if it is a path on this site (no scheme, host or backslash tricks), else None."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return None
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.get("/language")
def switch() -> Response:
    """Remember the language picked in the switcher and go back to the page it was picked on."""
    code = request.args.get("lang", "")
    if code not in LANGUAGES:
        abort(400, description=gettext("That language is not available."))
    target = local_path(request.args.get("next")) or url_for("resident.index")
    response = redirect(target, code=303)
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )
    return response


def switcher_links() -> list[dict[str, object]]:
    """The switcher's entries: code, tag, endonym, link back to this page, and which is current."""
    here = local_path(request.full_path.rstrip("?")) or "/"
    if request.endpoint == "language.switch":
        here = "/"  # the switch's own error page: going back would only refuse again
    current = current_locale()
    return [
        {
            "code": code,
            "tag": bcp47(code),
            "name": name,
            "url": url_for("language.switch", lang=code, next=here),
            "current": code == current,
        }
        for code, name in LANGUAGES.items()
    ]


def format_when(moment: datetime, tz: str, locale: str, *, short: bool = False) -> str:
    """A day and time in the clinic's zone, ordered and worded the locale's way (CLDR)."""
    cldr = cldr_locale(locale)
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    if short:
        day = format_skeleton("MMMEd", local, locale=cldr)
    else:
        day = format_date(local.date(), "full", locale=cldr)
    time = format_time(local, "short", locale=cldr)
    # CLDR's glue pattern, e.g. "{1}, {0}" (en) or "{0} {1}" (vi): {1} is the day, {0} the time.
    glue = str(get_datetime_format("full", locale=cldr)).replace("'", "")
    # CLDR puts a narrow no-break space before AM/PM: SMS alphabets lack it, so a plain one.
    return glue.replace("{1}", day).replace("{0}", time).replace("\u202f", " ")


# A reservation's state as residents, agents and clinic staff read it (the codes are English
# identifiers, not text).
STATUS_LABELS = {
    "held": N_("Held"),
    "confirmed": N_("Booked"),
    "checked_in": N_("Checked in"),
    "no_show": N_("No-show"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
}


def status_label(status: str) -> str:
    """The reader's word for a reservation status code."""
    label = STATUS_LABELS.get(status)
    return str(translate(label)) if label is not None else status


def init_app(app: Flask) -> None:
    """Attach Flask-Babel, the language switcher and the filters that format times."""
    assert tuple(LANGUAGES) == LOCALES, "booking.i18n.LANGUAGES and services.text.LOCALES differ"
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    # One Babel per app: its translations cache then belongs to this app's catalogs alone.
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        get_locale=get_locale,
        html_lang=lambda: bcp47(current_locale()),
        language_links=switcher_links,
    )
    # Every {{ value }} in a template goes through this: text a service marked with N_ is
    # translated in the reader's language as it is shown.
    app.jinja_env.finalize = translate
    app.jinja_env.filters["translate"] = translate
    app.jinja_env.filters["status_label"] = status_label

    @app.after_request
    def _vary(response: Response) -> Response:
        if response.mimetype == "text/html":
            # Pages differ by language: shared caches must not serve one reader's to another.
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response

    @app.template_filter("local_time")
    def local_time(value: datetime, tz: str) -> str:
        return format_time(
            value, "short", tzinfo=ZoneInfo(tz), locale=cldr_locale(current_locale())
        )

    @app.template_filter("local_datetime")
    def local_datetime(value: datetime, tz: str) -> str:
        return format_when(value, tz, current_locale())

    @app.template_filter("local_date")
    def local_date(value: date, fmt: str = "full") -> str:
        return format_date(value, fmt, locale=cldr_locale(current_locale()))

    @app.template_filter("short_date")
    def short_date(value: date) -> str:
        return str(format_skeleton("MMMEd", value, locale=cldr_locale(current_locale())))
