"""State admins register other providers' feeds and see how each one's fetches went."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry, ProviderFeed
from booking.services import provider_feeds
from tests.staff.support import admin_client
from tests.support import csrf_from

PAGE = "/admin/provider-feeds"
GOOD = {"name": "Example Pharmacy", "manifest_url": "https://pharmacy.example.com/$bulk-publish"}


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def post(admin, path=PAGE, **data):
    csrf = csrf_from(admin.get(PAGE).get_data(as_text=True))
    return admin.post(path, data={**data, "csrf_token": csrf})


def feeds(app):
    with app.app_context():
        rows = list(db.session.scalars(select(ProviderFeed)))
        db.session.expunge_all()
        return rows


def test_an_admin_registers_a_feed_and_sees_how_it_went(app, admin, clock):
    assert "No feeds registered yet." in admin.get(PAGE).get_data(as_text=True)
    assert post(admin, **GOOD).status_code == 303
    (feed,) = feeds(app)
    assert (feed.name, feed.manifest_url, feed.status, feed.active) == (
        GOOD["name"],
        GOOD["manifest_url"],
        "new",
        True,
    )
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Example Pharmacy" in page and "Not read yet" in page and "never" in page
    with app.app_context():
        provider_feeds.keep_refusal(
            db.session, feed.id, "slots.ndjson line 3: not JSON", now=clock()
        )
        db.session.commit()
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Refused" in page and "slots.ndjson line 3: not JSON" in page
    assert post(admin, f"{PAGE}/{feed.id}", action="deactivate").status_code == 303
    assert "Stopped" in admin.get(PAGE).get_data(as_text=True)
    assert feeds(app)[0].active is False
    assert post(admin, f"{PAGE}/{feed.id}", action="activate").status_code == 303
    assert feeds(app)[0].active is True
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.record_type == "provider_feed")
        ).all()
    assert actions == [
        "provider_feed.create",
        "provider_feed.deactivate",
        "provider_feed.activate",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "Enter the provider"),
        ({"name": "x" * 201}, "Enter the provider"),
        ({"manifest_url": "ftp://pharmacy.example.com/$bulk-publish"}, "ending in $bulk-publish"),
        ({"manifest_url": "https://pharmacy.example.com/feed.json"}, "ending in $bulk-publish"),
        ({"manifest_url": "https:///$bulk-publish"}, "ending in $bulk-publish"),
        ({"manifest_url": "https://a.example/ $bulk-publish"}, "ending in $bulk-publish"),
        ({"manifest_url": "javascript:alert(1)//$bulk-publish"}, "ending in $bulk-publish"),
    ],
)
def test_a_bad_registration_gets_the_form_again(app, admin, changes, message):
    response = post(admin, **{**GOOD, **changes})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert feeds(app) == []


def test_a_manifest_is_registered_once(app, admin):
    assert post(admin, **GOOD).status_code == 303
    again = post(admin, **{**GOOD, "name": "Same again"})
    assert again.status_code == 422
    assert "This manifest is registered already." in again.get_data(as_text=True)
    assert len(feeds(app)) == 1


def test_unknown_actions_and_feeds_are_refused(app, admin):
    assert post(admin, **GOOD).status_code == 303
    (feed,) = feeds(app)
    assert post(admin, f"{PAGE}/{feed.id}", action="delete").status_code == 400
    assert post(admin, f"{PAGE}/999999", action="deactivate").status_code == 404
    assert feeds(app)[0].active is True
