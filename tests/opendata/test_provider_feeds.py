"""The provider finder's fetch job against feeds served on 127.0.0.1: valid ones are kept,
broken, huge, slow and hostile ones refused (the last good copy stays), conditionally and per
feed."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from booking.db import db
from booking.jobs.providers import OUR_FAULT, fetch_provider_feed, schedule_provider_feeds
from booking.models import FeedStatus, ProviderFeed, ProviderLocation, ProviderSlot
from booking.services import provider_feeds
from tests.opendata.feed_server import FeedServer, Route, pharmacy_feed, serve, tag
from tests.support import refuse


@pytest.fixture
def server():
    running = FeedServer()
    yield running
    running.close()


@pytest.fixture
def chain(app, server, clock):
    """A registered chain whose valid feed the server serves; its feed id and resources."""
    app.config.update(PROVIDER_FEED_TIMEOUT_SECONDS=10.0, PROVIDER_FEED_MAX_MB=1.0)
    feed = pharmacy_feed(server, clock())
    with app.app_context():
        row = provider_feeds.register_feed(
            db.session,
            {"name": "Example Pharmacy", "manifest_url": server.url("/chain/$bulk-publish")},
            now=clock(),
        )
        db.session.commit()
        return {"id": row.id, "feed": feed}


def fetch(app, feed_id):
    with app.app_context():
        return fetch_provider_feed(feed_id)


def kept(app, feed_id):
    """The feed's row, its locations by source id and its slots by start."""
    with app.app_context():
        s = db.session
        feed = s.get(ProviderFeed, feed_id)
        locations = {
            r.source_id: r
            for r in s.scalars(select(ProviderLocation).where(ProviderLocation.feed_id == feed_id))
        }
        slots = list(s.scalars(select(ProviderSlot).where(ProviderSlot.feed_id == feed_id)))
        s.expunge_all()  # read after the context ends
        return feed, locations, sorted(slots, key=lambda x: x.starts_at)


def test_a_valid_feed_is_kept_with_its_free_slots_in_the_horizon(app, chain, clock):
    assert fetch(app, chain["id"]) == "accepted"
    feed, locations, slots = kept(app, chain["id"])
    assert (feed.status, feed.problem, feed.location_count, feed.slot_count) == ("ok", None, 2, 2)
    assert feed.fetched_at == feed.changed_at == feed.checked_at == clock()
    store = locations["store-1"]
    assert (store.name, store.vtrcks_pin, store.district, store.postal_code) == (
        "Example Pharmacy #1",
        "CV001",
        "Middlesex",
        "02139",
    )
    assert (store.phone, store.url) == ("617-555-0101", "https://pharmacy.example.com/stores/1")
    # Free and ahead within the horizon: the busy slot, the past one and the one a month out go.
    covid, flu = slots
    assert covid.starts_at == clock() + timedelta(hours=2)
    assert (covid.capacity, covid.service, covid.cvx_code) == (3, "covid19", "207")
    assert covid.booking_link == "https://pharmacy.example.com/book?slot=2"
    assert covid.booking_phone == "617-555-0100"
    assert covid.location_id == store.id
    assert (flu.service, flu.cvx_code, flu.capacity, flu.booking_link) == ("flu", "150", 1, None)
    assert flu.location_id == locations["store-2"].id


def test_the_next_fetch_asks_conditionally_and_keeps_the_copy(app, server, chain, clock):
    assert fetch(app, chain["id"]) == "accepted"
    _, before, _ = kept(app, chain["id"])
    server.requests.clear()
    clock.advance(timedelta(minutes=5))
    assert fetch(app, chain["id"]) == "unchanged"
    asked = {path: headers.get("if-none-match") for path, headers in server.requests}
    assert set(asked) == {
        "/chain/$bulk-publish",
        "/chain/locations.ndjson",
        "/chain/schedules.ndjson",
        "/chain/slots.ndjson",
    }
    assert all(asked.values())  # every one of them conditional, and answered 304
    assert all(h.get("accept-encoding") == "gzip" for _, h in server.requests)
    feed, after, _ = kept(app, chain["id"])
    assert feed.fetched_at == clock() and feed.changed_at == clock() - timedelta(minutes=5)
    assert {k: v.id for k, v in after.items()} == {k: v.id for k, v in before.items()}
    # One file changes (the manifest does not): everything is read and kept again.
    changed = copy.deepcopy(chain["feed"])
    changed["slots"][0]["extension"][2]["valueInteger"] = 1
    serve(server, changed)
    assert fetch(app, chain["id"]) == "accepted"
    assert kept(app, chain["id"])[2][0].capacity == 1


def test_a_gzipped_feed_is_read(app, server, chain):
    serve(server, chain["feed"], gzip="always")
    assert fetch(app, chain["id"]) == "accepted"
    assert kept(app, chain["id"])[0].slot_count == 2


def broken(feed, kind, index, change):
    altered = copy.deepcopy(feed)
    change(altered[kind][index])
    return altered


BROKEN = {
    "not JSON": lambda s, f: s.routes.__setitem__("/chain/slots.ndjson", Route(b"{oops\n")),
    "not a Schedule of this feed": lambda s, f: serve(
        s, broken(f, "slots", 0, lambda r: r["schedule"].update(reference="Schedule/nope"))
    ),
    "no address": lambda s, f: serve(s, broken(f, "locations", 0, lambda r: r.pop("address"))),
    "is not a web address": lambda s, f: serve(
        s,
        broken(f, "slots", 0, lambda r: r["extension"][0].update(valueUrl="javascript:alert(1)")),
    ),
    "is not a timestamp": lambda s, f: serve(
        s, broken(f, "slots", 0, lambda r: r.update(start="tomorrow"))
    ),
    "slot-capacity is not": lambda s, f: serve(
        s, broken(f, "slots", 0, lambda r: r["extension"][2].update(valueInteger=0))
    ),
    "id is not 1 to 64": lambda s, f: serve(
        s, broken(f, "locations", 1, lambda r: r.update(id="a b"))
    ),
    "actor is not a Location": lambda s, f: serve(
        s, broken(f, "schedules", 0, lambda r: r.update(actor=[{"reference": "Location/x"}]))
    ),
    "HTTP 500": lambda s, f: s.routes.__setitem__("/chain/schedules.ndjson", Route(status=500)),
    "redirected (302)": lambda s, f: s.routes.__setitem__(
        "/chain/locations.ndjson",
        Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"}),
    ),
    "is on another site": lambda s, f: _manifest_pointing_at(s, "http://127.0.0.2:9/x.ndjson"),
    "is not gzip": lambda s, f: s.routes.__setitem__(
        "/chain/slots.ndjson", Route(b"x", gzip="never", headers={"Content-Encoding": "br"})
    ),
}


def _manifest_pointing_at(server, url):
    route = server.routes["/chain/$bulk-publish"]
    manifest = json.loads(route.body)
    manifest["output"][0]["url"] = url
    route.body, route.etag = json.dumps(manifest).encode(), tag(json.dumps(manifest).encode())


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_a_broken_feed_is_refused_and_the_last_good_copy_stays(app, server, chain, clock, problem):
    assert fetch(app, chain["id"]) == "accepted"
    _, locations, slots = kept(app, chain["id"])
    BROKEN[problem](server, chain["feed"])
    clock.advance(timedelta(minutes=5))
    assert fetch(app, chain["id"]) == "refused"
    feed, locations_after, slots_after = kept(app, chain["id"])
    assert feed.status == FeedStatus.REFUSED and problem in feed.problem, feed.problem
    assert feed.checked_at == clock() and feed.fetched_at == clock() - timedelta(minutes=5)
    assert {k: v.id for k, v in locations_after.items()} == {k: v.id for k, v in locations.items()}
    assert [s.id for s in slots_after] == [s.id for s in slots]
    assert feed.slot_count == 2


def test_a_feed_larger_than_its_limit_is_refused(app, server, chain):
    app.config["PROVIDER_FEED_MAX_MB"] = 0.002  # 2 KB: the chain's slot file is larger
    assert fetch(app, chain["id"]) == "refused"
    assert "larger than 0.002 MB" in kept(app, chain["id"])[0].problem


def test_a_gzip_bomb_is_refused_without_inflating_it(app, server, chain):
    bomb = gzip.compress(b" " * 50_000_000)  # 50 MB of spaces in about 50 KB
    route = server.routes["/chain/slots.ndjson"]
    route.body, route.gzip, route.headers = bomb, "never", {"Content-Encoding": "gzip"}
    assert fetch(app, chain["id"]) == "refused"
    assert "larger than 1 MB" in kept(app, chain["id"])[0].problem


def test_a_slow_feed_is_refused(app, server, chain):
    app.config["PROVIDER_FEED_TIMEOUT_SECONDS"] = 0.5
    server.routes["/chain/slots.ndjson"].drip_seconds = 0.05  # a byte every 50 ms
    assert fetch(app, chain["id"]) == "refused"
    assert "took longer than 0.5 s" in kept(app, chain["id"])[0].problem


def test_a_feed_that_never_answers_is_refused(app, server, chain):
    app.config["PROVIDER_FEED_TIMEOUT_SECONDS"] = 0.5
    server.routes["/chain/$bulk-publish"].hang_seconds = 3
    assert fetch(app, chain["id"]) == "refused"
    assert "timed out" in kept(app, chain["id"])[0].problem


def test_feeds_are_scheduled_and_fetched_each_on_its_own(app, server, chain, clock, monkeypatch):
    pharmacy_feed(server, clock(), prefix="/other")
    server.routes["/other/slots.ndjson"].body = b"not json\n"
    with app.app_context():
        other = provider_feeds.register_feed(
            db.session,
            {"name": "Other Chain", "manifest_url": server.url("/other/$bulk-publish")},
            now=clock(),
        )
        stopped = provider_feeds.register_feed(
            db.session,
            {"name": "Stopped", "manifest_url": server.url("/stopped/$bulk-publish")},
            now=clock(),
        )
        provider_feeds.set_feed_active(db.session, stopped.id, False)
        db.session.commit()
        other_id = other.id
        assert schedule_provider_feeds() == 2  # the stopped one is not fetched
        assert schedule_provider_feeds() == 0  # claimed: not due again within the period
        from booking.jobs.queue import get_queue

        jobs = sorted(get_queue().job_ids)
    assert jobs == sorted([f"provider-feed-{chain['id']}", f"provider-feed-{other_id}"])
    assert fetch(app, other_id) == "refused"
    assert fetch(app, chain["id"]) == "accepted"
    assert kept(app, chain["id"])[0].slot_count == 2
    assert kept(app, other_id)[1] == {}
    # A surprise on FairSlot's side in one feed is recorded on that feed alone.
    monkeypatch.setattr(
        "booking.jobs.providers.read_feed", lambda *a, **k: (_ for _ in ()).throw(KeyError("x"))
    )
    assert fetch(app, other_id) == "refused"
    assert kept(app, other_id)[0].problem == OUR_FAULT
    assert kept(app, chain["id"])[0].status == "ok"
    clock.advance(timedelta(seconds=app.config["PROVIDER_FEED_SECONDS"]))
    with app.app_context():
        assert schedule_provider_feeds() == 2


def test_stopping_a_feed_removes_its_copy_and_a_late_fetch_keeps_nothing(app, chain, clock):
    assert fetch(app, chain["id"]) == "accepted"
    with app.app_context():
        provider_feeds.set_feed_active(db.session, chain["id"], False)
        db.session.commit()
    feed, locations, slots = kept(app, chain["id"])
    assert (locations, slots, feed.slot_count, feed.validators) == ({}, [], 0, {})
    assert fetch(app, chain["id"]) == "stopped"
    assert kept(app, chain["id"])[1] == {}


def test_the_database_refuses_a_booking_link_that_is_not_a_web_address(app, chain, session):
    fetch(app, chain["id"])
    slot = session.scalars(select(ProviderSlot)).first()
    for link in ("javascript:alert(1)", "data:text/html,hi", "//evil.example"):
        refuse(
            session,
            "UPDATE provider_slot SET booking_link = :link WHERE id = :id",
            "booking_link_web",
            link=link,
            id=slot.id,
        )


def test_fairslots_own_feed_read_back_as_another_provider_is_kept_whole(
    app, client, server, world, clock
):
    """A full feed from a real publisher (FairSlot's own, from the world's clinics)."""
    app.config.update(PROVIDER_FEED_TIMEOUT_SECONDS=10.0, PROVIDER_FEED_MAX_MB=1.0)
    manifest = client.get("/$bulk-publish").json
    published = []
    for entry in manifest["output"]:
        path = "/fairslot/" + entry["url"].rsplit("/", 1)[1]
        body = client.get(urlsplit(entry["url"]).path).get_data()
        server.routes[path] = Route(body, etag=tag(body))
        entry["url"] = server.url(path)
        if entry["type"] == "Slot":
            published += [json.loads(line) for line in body.decode().splitlines()]
    body = json.dumps(manifest).encode()
    server.routes["/fairslot/$bulk-publish"] = Route(body, etag=tag(body))
    with app.app_context():
        feed_id = provider_feeds.register_feed(
            db.session,
            {"name": "FairSlot", "manifest_url": server.url("/fairslot/$bulk-publish")},
            now=clock(),
        ).id
        db.session.commit()
    assert fetch(app, feed_id) == "accepted"
    feed, locations, slots = kept(app, feed_id)
    free = [r for r in published if r["status"] == "free"]
    assert len(slots) == len(free) == feed.slot_count > 0
    assert set(locations) == {str(world["boston"])}  # the COVID-19 manifest's one clinic
    assert {s.service for s in slots} == {"covid19"}
    public = app.config["PUBLIC_URL"].rstrip("/")
    assert all(s.booking_link.startswith(f"{public}/clinics/") for s in slots)
    assert all(s.booking_phone == "+1-877-211-6277" for s in slots)


def test_fairslots_own_feed_never_republishes_another_providers(app, client, chain, world):
    assert fetch(app, chain["id"]) == "accepted"
    for path in ("/$bulk-publish", "/flu/$bulk-publish"):
        manifest = client.get(path).json
        for entry in manifest["output"]:
            body = client.get(urlsplit(entry["url"]).path).get_data(as_text=True)
            assert "Example Pharmacy" not in body and "pharmacy.example.com" not in body


def test_a_line_separator_inside_a_json_string_is_not_a_line_break(app, server, chain):
    feed = copy.deepcopy(chain["feed"])
    feed["locations"][0]["name"] = "Example Pharmacy\u2028Kendall Square"
    body = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in feed["locations"])
    server.routes["/chain/locations.ndjson"] = Route(body, etag=tag(body))
    assert fetch(app, chain["id"]) == "accepted"
    assert kept(app, chain["id"])[1]["store-1"].name == "Example Pharmacy\u2028Kendall Square"
