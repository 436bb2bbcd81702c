"""Languages: choosing the locale, the switcher, <html lang>, and dates in the reader's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from booking.db import db
from booking.i18n import COOKIE, LANGUAGES, bcp47, format_when, local_path, negotiate
from booking.models import LOCALES
from tests.support import make_clinic, make_slot

HTML_LANG = re.compile(r'<html lang="([^"]+)">')
SWITCHER = re.compile(r'<nav class="language-switcher" aria-label="[^"]+">(.*?)</nav>', re.S)


def page(response):
    return response.get_data(as_text=True)


def html_lang(response):
    return HTML_LANG.search(page(response)).group(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es", "es"),
        ("es-MX,es;q=0.9,en;q=0.5", "es"),
        ("pt-BR", "pt"),
        ("pt-PT,pt;q=0.8", "pt"),
        ("zh", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("ht", "ht"),
        ("ht-HT", "ht"),
        ("vi-VN,vi;q=0.9", "vi"),
        ("en-US,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5", "es"),  # the first language we ship, by preference
        ("es;q=0.2,vi;q=0.7", "vi"),  # quality, not order, decides
        ("es;q=0,pt", "pt"),  # q=0 means "not this one"
        ("zh-TW", "en"),  # Traditional Chinese: we do not serve Simplified in its place
        ("zh-Hant,zh-CN;q=0.5", "zh_Hans"),
        ("fr", "en"),
        ("*", "en"),
        ("", "en"),
    ],
)
def test_the_browser_language_picks_the_locale(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header})
    assert response.status_code == 200
    assert html_lang(response) == bcp47(expected)


def test_negotiate_and_tags_directly():
    assert negotiate([("zh-cn", 1.0)]) == "zh_Hans"
    assert negotiate([]) == "en"
    assert bcp47("zh_Hans") == "zh-Hans" and bcp47("pt") == "pt"


def test_the_chosen_language_overrides_the_browser(client):
    client.set_cookie(COOKIE, "vi", domain="fairslot.test")
    assert html_lang(client.get("/", headers={"Accept-Language": "es"})) == "vi"
    client.set_cookie(COOKIE, "zh_Hans", domain="fairslot.test")
    assert html_lang(client.get("/", headers={"Accept-Language": "es"})) == "zh-Hans"


@pytest.mark.parametrize("bad", ["xx", "zh-Hans", "EN", "es;", "", "../../etc"])
def test_a_bad_cookie_is_ignored(client, bad):
    client.set_cookie(COOKIE, bad, domain="fairslot.test")
    response = client.get("/", headers={"Accept-Language": "pt-BR"})
    assert response.status_code == 200
    assert html_lang(response) == "pt"


def test_the_switcher_sets_the_cookie_and_goes_back(client):
    response = client.get("/language?lang=es&next=/lookup?code=AB")
    assert response.status_code == 303
    assert response.headers["Location"] == "/lookup?code=AB"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=es;")
    assert "Max-Age=31536000" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Secure" not in cookie  # the test app runs over plain http
    # Without JavaScript: following the link is all it takes.
    assert html_lang(client.get("/lookup")) == "es"


def test_the_language_cookie_is_secure_over_https(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = client.get("/language?lang=ht&next=/").headers["Set-Cookie"]
    assert "; Secure" in cookie


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_the_switcher_only_redirects_to_our_own_pages(client, target):
    response = client.get("/language", query_string={"lang": "pt", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert local_path(target) is None


def test_an_unknown_language_is_refused(client):
    response = client.get("/language?lang=xx&next=/")
    assert response.status_code == 400
    assert "That language is not available." in page(response)
    assert "next=/language" not in page(response)  # its switcher does not lead back here
    assert "Set-Cookie" not in response.headers or COOKIE not in response.headers["Set-Cookie"]
    assert client.get("/language?next=/").status_code == 400


@pytest.mark.parametrize("path", ["/", "/lookup", "/staff/sign-in", "/no-such-page"])
def test_every_page_has_the_switcher(client, path):
    response = client.get(path, headers={"Accept-Language": "zh-CN"})
    nav = SWITCHER.search(page(response))
    assert nav, path
    links = re.findall(r"<a ([^>]*)>([^<]+)</a>", nav.group(1))
    assert [name for _attrs, name in links] == list(LANGUAGES.values())
    for (attrs, _name), code in zip(links, LANGUAGES, strict=True):
        tag = bcp47(code)
        assert f'lang="{tag}"' in attrs and f'hreflang="{tag}"' in attrs
        assert f"/language?lang={code}&amp;next=" in attrs
        assert ('aria-current="true"' in attrs) == (code == "zh_Hans")


def test_error_pages_use_our_own_words(client):
    missing = page(client.get("/no-such-page"))
    assert "<h1>Page not found</h1>" in missing and "Not Found" not in missing


def test_the_switcher_link_returns_to_the_same_page(client):
    html = page(client.get("/lookup?code=ABCD"))
    href = re.search(r'href="(/language\?lang=vi[^"]*)"', html).group(1).replace("&amp;", "&")
    response = client.get(href)
    assert response.headers["Location"] == "/lookup?code=ABCD"


def test_languages_match_the_shipped_locales():
    assert tuple(LANGUAGES) == LOCALES
    assert LANGUAGES["zh_Hans"] == "简体中文" and LANGUAGES["ht"] == "Kreyòl ayisyen"
    assert LANGUAGES["pt"] == "Português" and LANGUAGES["vi"] == "Tiếng Việt"


def test_dates_on_a_resident_page_are_in_the_readers_language(app, client, now):
    with app.app_context():
        clinic = make_clinic(db.session, now, name="Fenway Community Health")
        slot = make_slot(db.session, clinic, now + timedelta(days=2))
        db.session.commit()
        clinic_id, slot_id = clinic.id, slot.id
    url = f"/clinics/{clinic_id}?date=2026-03-04&slot={slot_id}"
    english = page(client.get(url, headers={"Accept-Language": "en"}))
    spanish = page(client.get(url, headers={"Accept-Language": "es"}))
    assert "Wednesday" in english
    # Babel's CLDR data words the date, whatever the catalog holds: 4 March 2026 is a Wednesday.
    assert "miércoles" in spanish and "Wednesday" not in spanish
    assert "mié" in spanish  # the day picker's short names too


def test_format_when_follows_each_locale():
    moment = datetime(2026, 3, 5, 13, 0, tzinfo=UTC)  # 08:00 in Boston
    assert format_when(moment, "America/New_York", "en") == "Thursday, March 5, 2026, 8:00 AM"
    # US Spanish: a 12-hour clock, as the state's Spanish-speaking residents read the time.
    assert format_when(moment, "America/New_York", "es") == "jueves, 5 de marzo de 2026, 8:00 a.m."
    assert format_when(moment, "America/New_York", "en", short=True) == "Thu, Mar 5, 8:00 AM"
    assert "2026年3月5日" in format_when(moment, "America/New_York", "zh_Hans")
    assert "Thứ Năm" in format_when(moment, "America/New_York", "vi")
    assert "quinta-feira" in format_when(moment, "America/New_York", "pt")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", "294,597"), ("es", "294,597"), ("pt", "294.597"), ("vi", "294.597")],
)
def test_numbers_carry_the_readers_digit_grouping(app, locale, expected):
    from flask_babel import force_locale

    from booking.web.formats import number

    with app.test_request_context(), force_locale(locale):
        assert number(294597) == expected


def test_a_missing_compiled_catalog_falls_back_to_english(database_url, clock, tmp_path):
    from tests.conftest import rolled_back_app

    empty = tmp_path / "no-catalogs"
    empty.mkdir()
    with rolled_back_app(
        database_url, clock, tmp_path, BABEL_TRANSLATION_DIRECTORIES=str(empty)
    ) as app:
        response = app.test_client().get("/lookup", headers={"Accept-Language": "es"})
        assert response.status_code == 200
        assert html_lang(response) == "es"  # still the reader's locale...
        assert "Skip to main content" in page(response)  # ...with the English text


def test_haitian_creole_dates_use_kreyol_names_not_french():
    from babel.dates import format_date

    from booking.i18n import format_when

    moment = datetime(2026, 12, 4, 16, 15, tzinfo=UTC)  # a Friday
    long = format_when(moment, "America/New_York", "ht")
    short = format_when(moment, "America/New_York", "ht", short=True)
    # Day before month as in CLDR's ht; the 12-hour clock of the US, where its readers live.
    assert long == "vandredi 4 desanm 2026, 11:15 AM"
    assert short == "van 4 des, 11:15 AM"
    # CLDR's own French, which Babel gives "ht" by default, is left as it was for French.
    assert format_date(moment.date(), "full", locale="fr") == "vendredi 4 décembre 2026"
