"""The waiting room page explains itself: each mode beside its choice, what each limit means."""

from __future__ import annotations

import re

import pytest

from booking.admin.queue import MODES
from booking.web.queue_state import get_queue
from tests.staff.support import admin_client
from tests.support import csrf_from


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def described(page, field_id):
    """The text of the element that the control ``field_id`` names in aria-describedby."""
    tag = re.search(rf'<input[^>]*id="{field_id}"[^>]*>', page).group(0)
    hint_id = re.search(r'aria-describedby="([^"]+)"', tag).group(1)
    return re.search(rf'id="{hint_id}">([^<]+)<', page).group(1)


def test_each_mode_is_a_choice_with_its_meaning_beside_it(app, admin):
    with app.app_context():
        get_queue().update_settings(mode="always")
    page = admin.get("/admin/queue").get_data(as_text=True)
    checked = re.findall(r'<input type="radio" id="mode-(\w+)"[^>]*checked', page)
    assert checked == ["always"]
    for code, (name, meaning) in MODES.items():
        assert re.search(rf'<label for="mode-{code}">{name}</label>', page)
        assert described(page, f"mode-{code}") == meaning
    assert "<select" not in page
    assert 'http-equiv="refresh"' not in page  # it would wipe what the admin is typing


def test_the_two_limits_say_what_they_mean(admin):
    page = admin.get("/admin/queue").get_data(as_text=True)
    assert described(page, "max_active").startswith("MAX_ACTIVE. How many people who were let in")
    assert described(page, "admit_per_minute").startswith("ADMIT_PER_MINUTE. The most people")
    assert "0 of at most 500" in page  # active users, in words


def test_a_refused_change_keeps_what_was_chosen(admin):
    token = csrf_from(admin.get("/admin/queue").get_data(as_text=True))
    refused = admin.post(
        "/admin/queue",
        data={"mode": "paused", "max_active": "none", "csrf_token": token},
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.findall(r'<input type="radio" id="mode-(\w+)"[^>]*checked', page) == ["paused"]
    assert 'value="none"' in page


def test_the_modes_are_explained_in_spanish(admin):
    page = admin.get("/admin/queue", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "En pausa" in page and "No se admite a nadie más." in page
