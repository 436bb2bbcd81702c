"""Other providers' free appointments in the resident's and the agent's search: the service's
filters (radius, day, vaccine, freshness), the pages' marking, links and escaping."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking.models import ProviderFeed, ProviderLocation, ProviderSlot
from booking.services import inventory, provider_feeds, provider_search
from booking.services.feed_reader import FeedLocation, FeedSlot, Snapshot
from booking.services.geo import lookup_zip
from tests.support import make_clinic, make_slot

FENWAY = lookup_zip("02115")
LINK = "https://pharmacy.example.com/book?slot=1"


def add_feed(session, now, name="Example Pharmacy", fetched_minutes_ago=12, active=True):
    """A feed accepted ``fetched_minutes_ago``."""
    fetched = now - timedelta(minutes=fetched_minutes_ago)
    feed = ProviderFeed(
        name=name,
        manifest_url=f"https://{name.lower().replace(' ', '-')}.example.com/$bulk-publish",
        active=active,
        status="ok",
        created_at=now - timedelta(days=1),
        checked_at=fetched,
        fetched_at=fetched,
        changed_at=fetched,
        validators={},
    )
    session.add(feed)
    session.flush()
    return feed


def add_location(session, feed, n, latitude=42.3467, longitude=-71.0972, **overrides):
    values = {
        "source_id": f"store-{n}",
        "name": f"Example Pharmacy #{n}",
        "address_line": f"{n} Boylston Street",
        "city": "Boston",
        "state": "MA",
        "postal_code": "02115",
        "latitude": latitude,
        "longitude": longitude,
        "phone": "617-555-0199",
        **overrides,
    }
    location = ProviderLocation(feed_id=feed.id, **values)
    session.add(location)
    session.flush()
    return location


def add_slot(session, location, start, **overrides):
    values = {
        "service": "covid19",
        "cvx_code": "207",
        "capacity": 2,
        "booking_link": LINK,
        "booking_phone": "617-555-0100",
        **overrides,
    }
    slot = ProviderSlot(
        feed_id=location.feed_id,
        location_id=location.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=15),
        **values,
    )
    session.add(slot)
    session.flush()
    return slot


def near(session, now, **filters):
    return provider_search.providers_near(
        session,
        latitude=FENWAY.latitude,
        longitude=FENWAY.longitude,
        radius_miles=filters.pop("radius_miles", 10),
        now=now,
        max_age=timedelta(minutes=60),
        horizon_days=14,
        **filters,
    )


@pytest.fixture
def stores(session, now):
    """Two stores in Boston (one nearer), one out of reach; future, past and unstated times."""
    feed = add_feed(session, now)
    close = add_location(session, feed, 1, latitude=42.3437, longitude=-71.0932)
    farther = add_location(session, feed, 2)
    away = add_location(session, feed, 3, latitude=42.9, longitude=-71.09)  # ~38 miles
    hour = {h: now + timedelta(hours=h) for h in (-1, 1, 2, 3, 4, 5, 26)}
    add_slot(session, close, hour[-1])  # started: never shown
    for h in (1, 2, 3, 4):
        add_slot(session, close, hour[h], capacity=h)
    add_slot(session, farther, hour[5], service="flu", cvx_code="150")
    add_slot(session, farther, hour[26], service=None, cvx_code=None)  # tomorrow, unstated
    add_slot(session, away, hour[1])
    return {"feed": feed, "close": close, "farther": farther, "away": away}


def test_fresh_free_future_times_within_the_radius_nearest_first(session, now, stores):
    found = near(session, now)
    assert [r.location.id for r in found] == [stores["close"].id, stores["farther"].id]
    close, farther = found
    assert (close.available, close.next_available) == (1 + 2 + 3 + 4, now + timedelta(hours=1))
    assert [t.free for t in close.times] == [1, 2, 3]  # the soonest three, no past one
    assert (close.provider, close.age_minutes) == ("Example Pharmacy", 12)
    assert close.times[0].vaccine == "COVID-19 vaccine (Moderna)"
    assert [str(t.vaccine) for t in farther.times] == [
        "Flu vaccine (Fluzone Quadrivalent)",
        "Vaccine not stated",
    ]
    assert farther.distance_miles > close.distance_miles


def test_the_searchs_day_and_vaccine_filters_apply(session, now, stores):
    tomorrow = (
        (now + timedelta(hours=26)).astimezone(ZoneInfo(provider_search.PROVIDER_TIMEZONE)).date()
    )
    (only,) = near(session, now, day=tomorrow)
    assert [t.vaccine for t in only.times] == ["Vaccine not stated"]  # kept under any filter
    flu = near(session, now, service="flu")
    assert [(r.location.id, r.available) for r in flu] == [(stores["farther"].id, 4)]
    moderna = near(session, now, service="covid19", product_cvx="207")
    assert [r.location.id for r in moderna] == [stores["close"].id, stores["farther"].id]
    assert [t.vaccine for t in moderna[1].times] == ["Vaccine not stated"]
    assert near(session, now, service="covid19", product_cvx="208")[0].location.id == (
        stores["farther"].id  # another product: only the unstated time is left
    )


def test_a_stale_or_stopped_feed_is_not_shown(session, now, stores):
    feed = stores["feed"]
    feed.fetched_at = now - timedelta(minutes=61)
    session.flush()
    assert near(session, now) == []
    feed.fetched_at, feed.active = now, False
    session.flush()
    assert near(session, now) == []


def test_one_list_with_our_clinics_by_distance(session, now, stores):
    ours = [make_clinic(session, now, latitude=42.3445, longitude=-71.0950)]
    make_slot(session, ours[0], now + timedelta(hours=2))
    clinics = inventory.search_clinics(
        session,
        latitude=FENWAY.latitude,
        longitude=FENWAY.longitude,
        radius_miles=10,
        now=now,
    )
    listed = provider_search.by_distance(clinics, near(session, now))
    kinds = [getattr(r, "provider", None) or r.clinic.name for r in listed]
    miles = [r.distance_miles for r in listed]
    assert miles == sorted(miles) and len(kinds) == len(clinics) + 2
    assert "Example Pharmacy" in kinds


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (LINK, [("slot", "1"), ("source", "fairslot"), ("booking-referral", "r1")]),
        ("https://p.example.com/book", [("source", "fairslot"), ("booking-referral", "r1")]),
        (
            "https://p.example.com/b?booking-referral=theirs&source=x&a=%26",
            [("a", "&"), ("source", "fairslot"), ("booking-referral", "r1")],
        ),
    ],
)
def test_a_deep_link_gets_source_and_booking_referral_appended(link, expected):
    built = provider_search.referral_link(link, "r1")
    assert parse_qsl(urlsplit(built).query) == expected
    assert built.startswith(link.split("?")[0] + "?")


@pytest.mark.parametrize(
    "link",
    [
        "http://pharmacy.example.com/book",
        "javascript:alert(1)//https://x",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https:///nohost",
        "//pharmacy.example.com/book",
        "",
        None,
    ],
)
def test_only_https_links_are_given_out(link):
    assert provider_search.referral_link(link) is None


def test_each_referral_is_its_own():
    first, second = (provider_search.referral_link(LINK) for _ in range(2))
    assert first != second


@pytest.mark.parametrize(
    ("phone", "tel"),
    [
        ("617-555-0100", "tel:6175550100"),
        ("+1 (877) 211-6277", "tel:+18772116277"),
        ("javascript:alert(1)", None),
        ("call us", None),
    ],
)
def test_phones_become_tel_links_of_digits_only(phone, tel):
    assert provider_search.tel_link(phone) == tel


def test_the_resident_sees_another_providers_times_marked_with_link_and_freshness(
    app, client, session, now, stores
):
    session.commit()
    page = client.get("/search", query_string={"zip": "02115"}).get_data(as_text=True)
    assert page.count('class="result result--provider"') == 2
    assert "Another provider: Example Pharmacy" in page
    assert "Updated 12 minutes ago" in page
    assert "Also 2 places of other providers" in page
    links = re.findall(r'class="provider-book" href="([^"]+)"', page)
    assert len(links) == 5  # the soonest three at the nearer store, both at the farther
    for link in links:
        query = dict(parse_qsl(urlsplit(link.replace("&amp;", "&")).query))
        assert query["source"] == "fairslot" and len(query["booking-referral"]) == 32
    assert 'href="tel:6175550100"' in page
    assert "Example Pharmacy #3" not in page  # out of reach
    app.config["PROVIDER_FEED_MAX_AGE_MINUTES"] = 11  # the copy is 12 minutes old: stale
    page = client.get("/search", query_string={"zip": "02115"}).get_data(as_text=True)
    assert "result--provider" not in page and "Example Pharmacy" not in page


def test_the_agent_sees_them_too(app, agent, session, now, stores):
    session.commit()
    found = agent.get("/agent/", query_string={"zip": "02115", "radius_miles": "10"})
    page = found.get_data(as_text=True)
    assert page.count('class="result result--provider"') == 2
    assert "Another provider: Example Pharmacy" in page
    assert re.search(r'<h3 id="provider-\d+">Example Pharmacy #1</h3>', page)
    assert 'class="provider-book"' in page and "Updated 12 minutes ago" in page


def test_a_hostile_provider_is_shown_as_text(app, client, session, now):
    feed = add_feed(session, now, name='Evil <script>alert("feed")</script>')
    location = add_location(
        session,
        feed,
        9,
        name="<img src=x onerror=alert(1)>" + "W" * 150,
        address_line='"><script>alert(2)</script>',
        phone="javascript:alert(3)",
    )
    add_slot(session, location, now + timedelta(hours=1), booking_link="http://evil.example.com/")
    add_slot(session, location, now + timedelta(hours=2), booking_phone="<b>617</b>")
    session.commit()
    page = client.get("/search", query_string={"zip": "02115"}).get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>617</b>" not in page
    assert "&lt;script&gt;alert(&#34;feed&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "evil.example.com" not in page  # an http link is not linked
    assert 'href="javascript' not in page.lower()
    assert "tel:617" in page and "Call &lt;b&gt;617&lt;/b&gt;" in page


def test_our_api_and_open_data_never_list_them(app, client, session, now, stores):
    make_slot(session, make_clinic(session, now, name="Our Clinic"), now + timedelta(hours=2))
    session.commit()
    clinics = client.get("/api/v1/clinics", query_string={"zip": "02115"}).get_data(as_text=True)
    summary = client.get("/api/v1/availability").get_data(as_text=True)
    files = [
        client.get(urlsplit(entry["url"]).path).get_data(as_text=True)
        for entry in client.get("/$bulk-publish").json["output"]
    ]
    assert any("Our Clinic" in body for body in files)
    for body in files:
        assert "Example Pharmacy" not in body and "pharmacy.example.com" not in body
    assert "Our Clinic" in clinics and '"available"' in summary
    for body in (clinics, summary):
        assert "Example Pharmacy" not in body and "pharmacy.example.com" not in body


def test_a_location_without_a_position_is_placed_at_its_zip_code(session, now):
    feed = add_feed(session, now)
    place = FeedLocation(
        "store-7", "Example Pharmacy #7", "7 Main St", "Boston", "MA", "02115-1234",
        None, None, None, None, None, None,
    )  # fmt: skip
    nowhere = FeedLocation(*[*place.__dict__.values()][:5], "99999", *[None] * 6)
    slot = FeedSlot("store-7", "covid19", None, now + timedelta(hours=1),
                    now + timedelta(hours=2), 1, LINK, None)  # fmt: skip
    provider_feeds.keep_snapshot(session, feed.id, Snapshot([place], [slot]), {}, now=now)
    (found,) = near(session, now)
    assert (found.location.latitude, found.location.longitude) == (
        FENWAY.latitude,
        FENWAY.longitude,
    )
    provider_feeds.keep_snapshot(session, feed.id, Snapshot([nowhere], []), {}, now=now)
    kept = session.scalars(select(ProviderLocation).where(ProviderLocation.feed_id == feed.id))
    assert [(x.latitude, x.postal_code) for x in kept] == [(None, "99999")]
