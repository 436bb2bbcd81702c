"""Control characters are refused before any view, on every route: one check, not one per form.

booking/web/input_guard.py runs before every view. These tests walk the app's URL map, so a
route added later is covered without being listed: each GET with a NUL in its query string and
each POST (with a valid CSRF token) with one in its form answers 400, saying what to remove;
pages as HTML, the API as problem+json.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.support import csrf_from

MESSAGE = "characters we cannot accept"


def routes(app: Flask, method: str) -> list[str]:
    """A URL for every rule that takes ``method``, its variables filled in plainly."""
    urls = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        url = re.sub(r"<int[^>]*>", "1", rule.rule)
        urls.append(re.sub(r"<[^>]+>", "x", url))
    return sorted(set(urls))


def refused(response: Any) -> bool:
    text = response.get_data(as_text=True)
    return response.status_code == 400 and MESSAGE in text and "\x00" not in text


def test_every_get_refuses_a_nul_in_its_query(app: Flask, client: Any) -> None:
    urls = routes(app, "GET")
    assert len(urls) > 40  # the walk really covers the app
    wrong = [u for u in urls if not refused(client.get(u, query_string={"q": "a\x00b"}))]
    assert wrong == []


def test_every_post_refuses_a_control_character_in_its_form(app: Flask, client: Any) -> None:
    token = csrf_from(client.get("/staff/sign-in").get_data(as_text=True))
    urls = routes(app, "POST")
    assert len(urls) > 20
    wrong = []
    for url in urls:
        response = client.post(url, data={"csrf_token": token, "note": "a\x07b"})
        if not refused(response):
            wrong.append((url, response.status_code))
    assert wrong == []


@pytest.mark.parametrize("value", ["\x00", "\x1f", "\x7f", "\x85", "x\x0bx"])
def test_pages_answer_in_html(client: Any, value: str) -> None:
    response = client.get("/search", query_string={"zip": value})
    assert refused(response) and response.mimetype == "text/html"


@pytest.mark.parametrize("value", ["line one\nline two", "a\tb", "a\r\nb", "José Ñandú", "李"])
def test_ordinary_text_passes(client: Any, value: str) -> None:
    assert client.get("/search", query_string={"zip": value}).status_code == 422  # not a ZIP


def test_the_field_name_itself_is_checked_and_never_echoed(client: Any) -> None:
    response = client.get("/api/v1/clinics", query_string={"zip\x00": "02115"})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["pointer"] == "#/zip\ufffd"
