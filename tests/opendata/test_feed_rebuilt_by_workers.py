"""Where workers run, they rebuild the open data and web requests only serve the stored copy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking.db import db
from booking.jobs.opendata import rebuild_open_data
from booking.jobs.tasks import HOUSEKEEPING
from booking.opendata import store, views
from booking.redis_client import get_redis
from booking.services import holds

PATHS = ("/$bulk-publish", "/opendata/locations.ndjson", "/api/v1/availability")


def no_build_in_requests(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a web request rebuilt the open data")

    monkeypatch.setattr(views, "publication_builds", refuse)


def test_the_rebuild_is_housekeeping():
    assert "booking.jobs.opendata.rebuild_open_data" in HOUSEKEEPING


def test_requests_serve_the_workers_copy_and_never_rebuild(app, client, world, clock, monkeypatch):
    with app.app_context():
        assert rebuild_open_data() == ["bulk", "summary"]
    first = {path: client.get(path) for path in PATHS}
    assert all(r.status_code == 200 for r in first.values())
    no_build_in_requests(monkeypatch)
    clock.advance(timedelta(minutes=10))  # long stale by the refresh interval
    with app.app_context():
        holds.place_hold(db.session, world["slots"][0], now=clock(), hold_minutes=10)
        db.session.commit()
    for path, before in first.items():
        again = client.get(path)
        assert again.status_code == 200
        assert again.headers["ETag"] == before.headers["ETag"], path  # the stored copy
    monkeypatch.undo()
    with app.app_context():
        rebuild_open_data()  # the next housekeeping run
    changed = client.get("/api/v1/availability")
    assert changed.headers["ETag"] != first["/api/v1/availability"].headers["ETag"]


@pytest.mark.parametrize("path", PATHS)
def test_before_the_workers_first_rebuild_the_answer_is_503_with_retry_after(
    app, client, world, monkeypatch, path
):
    with app.app_context():
        store.Publisher(get_redis(), 60).mark_rebuilder(180)
    no_build_in_requests(monkeypatch)
    response = client.get(path)
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == str(app.config["HOUSEKEEPING_SECONDS"])
    assert response.json["title"] == "Not published yet"


def test_when_the_workers_stop_requests_rebuild_again(app, client, world, clock):
    with app.app_context():
        rebuild_open_data()
    before = client.get("/api/v1/availability").headers["ETag"]
    with app.app_context():
        get_redis().delete(store.REBUILDER)  # no worker has said so for three periods
        holds.place_hold(db.session, world["slots"][0], now=clock(), hold_minutes=10)
        db.session.commit()
    clock.advance(timedelta(seconds=61))
    assert client.get("/api/v1/availability").headers["ETag"] != before


def test_a_workers_rebuild_locks_for_minutes_and_releases_the_lock(app, world, monkeypatch):
    with app.app_context():
        redis = get_redis()
        locks = []
        real_set = redis.set

        def spy(name, value, **kwargs):
            if str(name).startswith(f"{store.PREFIX}:lock:"):
                locks.append((name, kwargs.get("ex")))
            return real_set(name, value, **kwargs)

        monkeypatch.setattr(redis, "set", spy)
        rebuild_open_data()
        # A rebuild at a million slots takes minutes: a request's 60 s lock would lapse under it
        # and let a request start a second one.
        assert [ex for _, ex in locks] == [store.WORKER_LOCK_SECONDS] * 2
        assert store.WORKER_LOCK_SECONDS >= 600
        assert not any(redis.exists(name) for name, _ in locks)
        assert 0 < redis.ttl(store.REBUILDER) <= 3 * app.config["HOUSEKEEPING_SECONDS"]
