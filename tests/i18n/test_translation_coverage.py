"""Every shipped language is complete: each message of the template translated, placeholders
intact, and the template itself extracted from the current sources.

These fail while a translation is unfinished, on purpose: a resident must never meet English
half-way through booking in their language.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from booking.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
TRANSLATED = [code for code in LANGUAGES if code != "en"]  # English is the source language
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]*\d*(?:\.\d+)?[sdifr]|%[sdifr]")


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _messages(catalog: Catalog) -> dict[str, Message]:
    """Messages by their singular id (the header entry left out)."""
    found = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        found[key] = message
    return found


def _placeholders(text: str) -> set[str]:
    """The %(name)s names in ``text``, and any positional %s/%d as themselves."""
    return {m.group(1) or m.group(0) for m in PLACEHOLDER.finditer(text.replace("%%", ""))}


def _texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _extract_command() -> list[str]:
    """The Makefile's extraction command (its keywords and options), run with this Python."""
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^PYBABEL_EXTRACT = \$\(BIN\)/pybabel (.*?)(?<!\\)\n", makefile, re.S | re.M)
    assert match, "the Makefile's PYBABEL_EXTRACT line moved"
    options = shlex.split(match.group(1).replace("\\\n", " "))
    return [sys.executable, "-m", "babel.messages.frontend", *options]


def test_every_language_has_a_catalog_and_every_catalog_a_language():
    catalogs = {p.parent.parent.name for p in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")}
    assert catalogs == set(TRANSLATED)


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_translated(code):
    """Each msgid of messages.pot has a non-empty, non-fuzzy msgstr in ``code``'s catalog."""
    template = _messages(_catalog(POT))
    catalog = _catalog(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po")
    assert not catalog.fuzzy, f"{code}: the catalog header is marked fuzzy"
    translated = _messages(catalog)
    missing = sorted(key for key in template if key not in translated)
    empty = sorted(
        key
        for key, message in translated.items()
        if key in template and not all(s.strip() for s in _texts(message.string) or [""])
    )
    fuzzy = sorted(key for key, message in translated.items() if key in template and message.fuzzy)
    problems = [
        *(f"missing: {key!r}" for key in missing),
        *(f"untranslated: {key!r}" for key in empty),
        *(f"fuzzy: {key!r}" for key in fuzzy),
    ]
    assert not problems, (
        f"{code}: {len(missing)} missing, {len(empty)} untranslated, {len(fuzzy)} fuzzy "
        f"of {len(template)} messages (run `make translations-update`, then translate):\n"
        + "\n".join(problems[:40])
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_the_placeholders(code):
    """A translation names the same %(name)s values as its English, or it breaks when filled."""
    wrong = _placeholder_errors(_catalog(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"))
    assert not wrong, f"{code}: placeholders differ:\n" + "\n".join(wrong[:40])


def _placeholder_errors(catalog: Catalog) -> list[str]:
    wrong = []
    for key, message in _messages(catalog).items():
        expected = set().union(*(_placeholders(s) for s in _texts(message.id)))
        plural = isinstance(message.id, tuple)
        for translation in filter(None, _texts(message.string)):
            found = _placeholders(translation)
            # A plural form may leave the number out ("one"), but never name another value.
            if (found - expected) if plural else (found != expected):
                wrong.append(f"{key!r} -> {translation!r}")
    return wrong


def test_the_template_is_up_to_date_with_the_sources(tmp_path):
    """Re-extract the message ids and compare with the committed messages.pot."""
    fresh = tmp_path / "messages.pot"
    command = _extract_command()
    command[command.index("-o") + 1 if "-o" in command else len(command) :] = []
    result = subprocess.run(
        [*command, "-o", str(fresh), "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    committed, current = set(_messages(_catalog(POT))), set(_messages(_catalog(fresh)))
    assert current - committed == set(), "new texts: run `make translations-extract`"
    assert committed - current == set(), "texts gone: run `make translations-extract`"


def test_placeholder_check_can_fail():
    catalog = Catalog(locale="es")
    catalog.add("From %(low)d to %(high)d.", "Del %(low)d al %(high)d.")
    catalog.add("Hello %(name)s.", "Hola %(nombre)s.")
    catalog.add("Call %(phone)s.", "Llame.")
    catalog.add(("%(num)d left", "%(num)d left"), ("queda uno", "quedan %(num)d"))
    catalog.add(("%(num)d free", "%(num)d free"), ("%(n)d libre", "%(n)d libres"))
    assert _placeholder_errors(catalog) == [
        "'Hello %(name)s.' -> 'Hola %(nombre)s.'",
        "'Call %(phone)s.' -> 'Llame.'",
        "'%(num)d free' -> '%(n)d libre'",
        "'%(num)d free' -> '%(n)d libres'",
    ]
    assert _placeholders("From %(low)d to %(high)d, %s, 100%%") == {"low", "high", "%s"}
    assert _placeholders("Del %(bajo)d") != _placeholders("From %(low)d")
