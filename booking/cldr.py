"""CLDR locales for dates, times and numbers: the readers' territory, and Kreyòl names.

Each shipped language is formatted the way its readers here expect: Spanish as in the United
States (``es_US``: 12-hour times, "1,234"), Portuguese as in Brazil. CLDR has no date names for
Haitian Creole: Babel falls back to French ("vendredi 4 décembre"), which a Kreyòl reader should
not be shown, and to a 24-hour clock; we keep its day-before-month order, give it the names from
standard Kreyòl orthography, and the 12-hour clock of the US, where FairSlot's readers live.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, cast

from babel import Locale, localedata

# Babel numbers weekdays from Monday (0) and months from January (1).
_KREYOL_DAYS = ("lendi", "madi", "mèkredi", "jedi", "vandredi", "samdi", "dimanch")
_KREYOL_DAYS_SHORT = ("len", "mad", "mèk", "jed", "van", "sam", "dim")
_KREYOL_MONTHS = (
    "janvye", "fevriye", "mas", "avril", "me", "jen",
    "jiyè", "out", "septanm", "oktòb", "novanm", "desanm",
)  # fmt: skip
_KREYOL_MONTHS_SHORT = (
    "jan", "fev", "mas", "avr", "me", "jen", "jiy", "out", "sep", "okt", "nov", "des",
)  # fmt: skip


def _names(wide: tuple[str, ...], short: tuple[str, ...], first: int) -> dict[str, Any]:
    widths = {
        "wide": dict(enumerate(wide, first)),
        "abbreviated": dict(enumerate(short, first)),
        "short": dict(enumerate(short, first)),
        "narrow": dict(enumerate((name[0].upper() for name in wide), first)),
    }
    return {"format": widths, "stand-alone": copy.deepcopy(widths)}


class _KreyolLocale(Locale):
    """Babel's ``ht`` locale with Kreyòl day and month names in place of French ones."""

    @property
    def _data(self) -> localedata.LocaleDataDict:
        return _kreyol_data()


@cache
def _kreyol_data() -> localedata.LocaleDataDict:
    data = copy.deepcopy(localedata.load("ht"))  # a copy: Babel's own cache stays untouched
    data["days"] = _names(_KREYOL_DAYS, _KREYOL_DAYS_SHORT, 0)
    data["months"] = _names(_KREYOL_MONTHS, _KREYOL_MONTHS_SHORT, 1)
    us = localedata.load("en_US")
    data["time_formats"] = copy.deepcopy(us["time_formats"])
    data["day_periods"] = copy.deepcopy(us["day_periods"])
    return localedata.LocaleDataDict(cast(Any, data))


# The territory each catalog's readers are formatted for (the rest: the language's default).
_TERRITORY = {"en": "en_US", "es": "es_US", "pt": "pt_BR"}


@cache
def cldr_locale(code: str) -> Locale:
    """The Babel locale that formats dates, times and numbers for a shipped catalog code."""
    if code == "ht":
        return _KreyolLocale("ht")
    return Locale.parse(_TERRITORY.get(code, code))
