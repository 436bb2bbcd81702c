"""The feed over HTTP as aggregators poll it: gzip, validators that agree, and `_since`."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from booking.db import db
from booking.models import Clinic
from booking.opendata import store
from booking.redis_client import get_redis
from booking.services import holds
from tests.support import make_slot

GZIP = {"Accept-Encoding": "gzip"}
FILES = (
    "/opendata/locations.ndjson",
    "/opendata/slots-MA-2026-03-02.ndjson",
    "/opendata/flu-slots-CT-2026-03-02.ndjson",
)


def urls(client, manifest="/$bulk-publish"):
    """The manifest's path and its files' paths."""
    return [manifest, *(urlsplit(o["url"]).path for o in client.get(manifest).json["output"])]


@pytest.mark.parametrize("path", ["/$bulk-publish", "/flu/$bulk-publish", *FILES])
def test_gzip_is_served_to_clients_that_take_it_and_is_the_same_content(client, world, path):
    plain = client.get(path)
    packed = client.get(path, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Vary"] == packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert int(packed.headers["Content-Length"]) == len(packed.get_data())
    # Two representations, two strong tags; the same content, the same date.
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert not packed.headers["ETag"].startswith("W/")
    assert packed.headers["Last-Modified"] == plain.headers["Last-Modified"]
    assert packed.mimetype == plain.mimetype


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("*", True),
        ("deflate;q=1, gzip;q=0.1", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("*, gzip;q=0", False),
        ("identity", False),
        ("br", False),
        ("deflate", False),
        ("", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(client, world, accept, gzipped):
    response = client.get(
        "/opendata/slots-MA-2026-03-02.ndjson", headers={"Accept-Encoding": accept}
    )
    assert response.status_code == 200
    assert (response.headers.get("Content-Encoding") == "gzip") is gzipped
    body = response.get_data()
    assert (body[:2] == b"\x1f\x8b") is gzipped


def test_each_representation_answers_304_to_its_own_tag(client, world):
    path = "/opendata/slots-MA-2026-03-02.ndjson"
    plain_tag = client.get(path).headers["ETag"]
    packed_tag = client.get(path, headers=GZIP).headers["ETag"]
    mine = client.get(path, headers={**GZIP, "If-None-Match": packed_tag})
    assert mine.status_code == 304 and mine.get_data() == b""
    assert mine.headers["ETag"] == packed_tag and mine.headers["Vary"] == "Accept-Encoding"
    assert client.get(path, headers={"If-None-Match": plain_tag}).status_code == 304
    # A client holding the plain copy that now asks for gzip gets the gzip copy, not a 304.
    other = client.get(path, headers={**GZIP, "If-None-Match": plain_tag})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"
    several = client.get(path, headers={**GZIP, "If-None-Match": f'"x", W/{packed_tag}'})
    assert several.status_code == 304


def test_compressed_once_per_rebuild_and_only_what_changed(app, client, world, clock, monkeypatch):
    calls = []
    real = store.compress

    def counting(body):
        calls.append(body)
        return real(body)

    monkeypatch.setattr(store, "compress", counting)
    paths = urls(client) + urls(client, "/flu/$bulk-publish")
    documents = len(calls)
    assert documents >= len(set(paths))  # every document of the build, once
    for _ in range(3):
        for path in paths:
            assert client.get(path, headers=GZIP).status_code == 200
    assert len(calls) == documents  # served from the stored copies
    clock.advance(timedelta(seconds=61))
    for path in paths:
        client.get(path, headers=GZIP)
    assert len(calls) == documents  # rebuilt, nothing changed: nothing written or compressed
    with app.app_context():
        holds.place_hold(db.session, world["flu"], now=clock(), hold_minutes=10)
        db.session.commit()
    clock.advance(timedelta(seconds=61))
    manifest = client.get("/flu/$bulk-publish").get_data()
    slot_file = client.get("/opendata/flu-slots-CT-2026-03-02.ndjson").get_data()
    # The flu slot file changed, and the flu manifest that lists it; nothing else.
    assert sorted(calls[documents:]) == sorted([manifest, slot_file])


def test_last_modified_stays_while_the_content_does_and_agrees_with_the_etag(
    app, client, world, clock
):
    first = {path: client.get(path) for path in urls(client, "/flu/$bulk-publish")}
    manifest = first["/flu/$bulk-publish"]
    built_at = parsedate_to_datetime(manifest.headers["Last-Modified"])
    assert manifest.json["transactionTime"] == built_at.isoformat()
    for _ in range(3):  # rebuilds with nothing changed: every validator stays
        clock.advance(timedelta(seconds=61))
        for path, before in first.items():
            again = client.get(path, headers={"If-Modified-Since": before.headers["Last-Modified"]})
            assert again.status_code == 304, path
            assert again.headers["ETag"] == before.headers["ETag"]
            full = client.get(path)
            assert full.headers["Last-Modified"] == before.headers["Last-Modified"]
            assert full.get_data() == before.get_data()
    with app.app_context():
        holds.place_hold(db.session, world["flu"], now=clock(), hold_minutes=10)
        db.session.commit()
    clock.advance(timedelta(seconds=61))
    changed_at = clock().replace(microsecond=0)
    slot_file = next(p for p in first if "flu-slots-CT" in p)
    since = {"If-Modified-Since": first[slot_file].headers["Last-Modified"]}
    after = client.get(slot_file, headers=since)
    assert after.status_code == 200
    assert parsedate_to_datetime(after.headers["Last-Modified"]) == changed_at
    assert after.headers["ETag"] != first[slot_file].headers["ETag"]
    manifest_now = client.get("/flu/$bulk-publish")
    assert manifest_now.json["transactionTime"] == changed_at.isoformat()
    assert parsedate_to_datetime(manifest_now.headers["Last-Modified"]) == changed_at
    for path in first:  # the Locations and Schedules did not change: still their first date
        if path not in (slot_file, "/flu/$bulk-publish"):
            unchanged = client.get(path, headers={"If-Modified-Since": format_datetime(built_at)})
            assert unchanged.status_code == 304, path
    # The COVID-19 manifest lists none of the flu files: it did not change either.
    covid = client.get("/$bulk-publish")
    assert parsedate_to_datetime(covid.headers["Last-Modified"]) == built_at


def test_a_file_leaving_the_manifest_changes_it(client, world, clock):
    before = client.get("/flu/$bulk-publish")
    assert any("flu-slots-CT" in o["url"] for o in before.json["output"])
    clock.advance(timedelta(hours=3))  # the one Connecticut flu slot is now in the past
    after = client.get("/flu/$bulk-publish", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert not any("flu-slots-CT" in o["url"] for o in after.json["output"])
    assert after.json["transactionTime"] > before.json["transactionTime"]
    assert client.get("/opendata/flu-slots-CT-2026-03-02.ndjson").status_code == 404


@pytest.mark.parametrize(
    "since", ["2026-03-02T12:00:00Z", "2030-01-01T00:00:00+00:00", "yesterday", ""]
)
def test_since_is_ignored_and_the_full_data_set_is_served(client, world, since):
    full = client.get("/$bulk-publish")
    partial = client.get("/$bulk-publish", query_string={"_since": since})
    assert partial.status_code == 200
    assert partial.get_data() == full.get_data()
    assert partial.headers["ETag"] == full.headers["ETag"]


def test_without_redis_the_feed_is_built_for_the_request_with_no_made_up_date(
    app, client, world, monkeypatch
):
    def down(*_args, **_kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(store.Publisher, "refresh", down)
    for path in ("/$bulk-publish", "/opendata/slots-MA-2026-03-02.ndjson"):
        plain = client.get(path)
        assert plain.status_code == 200 and "Last-Modified" not in plain.headers
        assert client.get(path, headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
        old = "Mon, 01 Jan 2024 00:00:00 GMT"
        assert client.get(path, headers={"If-Modified-Since": old}).status_code == 200
        packed = client.get(path, headers=GZIP)
        assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert client.get("/opendata/slots-NY-2026-03-02.ndjson").status_code == 404


def test_slots_are_filed_by_state_and_local_day_and_a_booking_changes_one_file(
    app, client, world, clock
):
    with app.app_context():
        boston = db.session.get(Clinic, world["boston"])
        # 23:30 in Boston on the 3rd is 04:30 UTC on the 4th: it belongs to the 3rd.
        late = make_slot(db.session, boston, datetime(2026, 3, 4, 4, 30, tzinfo=UTC))
        db.session.commit()
        late_id = late.id
    manifest = client.get("/$bulk-publish").json
    slot_files = [urlsplit(o["url"]).path for o in manifest["output"] if o["type"] == "Slot"]
    assert slot_files == [
        "/opendata/slots-MA-2026-03-02.ndjson",
        "/opendata/slots-MA-2026-03-03.ndjson",
    ]
    second_day = client.get(slot_files[1]).get_data(as_text=True)
    assert f'"id":"{late_id}.free"' in second_day and second_day.count("\n") == 1
    tags = {path: client.get(path).headers["ETag"] for path in slot_files}
    with app.app_context():
        holds.place_hold(db.session, world["slots"][1], now=clock(), hold_minutes=10)
        db.session.commit()
    clock.advance(timedelta(seconds=61))
    after = {
        path: client.get(path, headers={"If-None-Match": tags[path]}).status_code
        for path in slot_files
    }
    assert after == {slot_files[0]: 200, slot_files[1]: 304}


def test_a_copy_stored_without_its_gzip_copy_is_still_served_gzipped(app, client, world):
    plain = client.get("/opendata/locations.ndjson").get_data()
    with app.app_context():
        get_redis().hdel("{fairslot:opendata}:doc:file:locations.ndjson", "gzip")
    packed = client.get("/opendata/locations.ndjson", headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain
