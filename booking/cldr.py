"""CLDR locales for date formatting, with the Haitian Creole day and month names CLDR lacks.

CLDR has no date names for Haitian Creole: Babel falls back to French ("vendredi 4 décembre"),
which a Kreyòl reader should not be shown. We keep CLDR's patterns for ``ht`` (day before
month, 24-hour clock) and give it the names from standard Kreyòl orthography.
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
    return localedata.LocaleDataDict(cast(Any, data))


@cache
def cldr_locale(code: str) -> Locale:
    """The Babel locale to format dates for a shipped catalog code (``ht`` with Kreyòl names)."""
    if code == "ht":
        return _KreyolLocale("ht")
    return Locale.parse(code)
