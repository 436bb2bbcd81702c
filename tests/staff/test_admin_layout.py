"""Every admin page: the admin's stylesheet, no inline styles or scripts, and tables that can
stack on a phone, each cell labelled with its column's heading."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import Clinic, OutboxMessage
from tests.services.course_world import book
from tests.staff.support import admin_client
from tests.support import make_slot

PAGES = [
    "/admin/dashboard",
    "/admin/queue",
    "/admin/audit",
    "/admin/accounts",
    "/admin/messages",
    "/admin/clinics",
    "/admin/vaccines",
    "/admin/eligibility",
    "/admin/clinics/new",
    "/admin/vaccines/new",
]

# Pages with table rows in this test's data (the queue page has no table, no rule is set).
ROWS = {"/admin/dashboard", "/admin/audit", "/admin/accounts", "/admin/messages", "/admin/clinics"}
ROWS |= {"/admin/vaccines"}


class Tables(HTMLParser):
    """Each table's class, header texts, and its body cells: (column, data-label, text, tags)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tables, self.inline, self._cell, self._part = [], [], None, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs:
            self.inline.append(f"style attribute on <{tag}>")
        if tag == "style" or (tag == "script" and "src" not in attrs):
            self.inline.append(f"inline <{tag}>")
        if tag == "table":
            self.tables.append({"class": attrs.get("class", ""), "heads": [], "cells": []})
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self.tables:
            self._column = 0
        elif tag in ("th", "td") and self.tables:
            self._cell = {"tag": tag, "label": attrs.get("data-label"), "text": "", "tags": set()}
        elif self._cell is not None:
            self._cell["tags"].add(tag)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None and self.tables:
            table, cell = self.tables[-1], self._cell
            if self._part == "thead":
                table["heads"].append(cell["text"].strip())
            elif cell["tag"] == "td":
                table["cells"].append(
                    (self._column, cell["label"], cell["text"].strip(), cell["tags"])
                )
            self._column += 1
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


@pytest.fixture
def admin(app, clock, accounts):
    with app.app_context():
        clinic = db.session.scalars(select(Clinic)).first()
        slot = make_slot(db.session, clinic, clock() + timedelta(days=1))
        book(db.session, slot.id, clock())
        failed = db.session.scalars(select(OutboxMessage)).first()
        failed.status = "failed"
        db.session.commit()
    return admin_client(app, clock)


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_link_their_stylesheet_and_carry_no_inline_style_or_script(admin, path):
    response = admin.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<link rel="stylesheet" href="/static/admin.css">' in page
    assert Tables(page).inline == []


@pytest.mark.parametrize("path", PAGES)
def test_every_cell_of_a_stacking_table_is_labelled_with_its_column(admin, path):
    tables = Tables(admin.get(path).get_data(as_text=True)).tables
    if path in ROWS:  # the checks below have something to check
        assert any(t["cells"] for t in tables), path
    for table in tables:
        heads = table["heads"]
        if "admin-stack" not in table["class"]:
            # Only a table of three narrow columns stays a table on a phone.
            assert len(heads) <= 3, (path, heads)
            continue
        for column, label, text, tags in table["cells"]:
            if label is None:  # only a row's buttons and links may go unlabelled
                assert not text or tags & {"form", "button", "ul"}, (path, text)
            else:
                assert label == heads[column], (path, column, label, heads)
