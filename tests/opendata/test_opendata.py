"""SMART Scheduling Links bulk publication and the availability summary."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FhirSlot

from booking.db import db
from booking.models import Slot
from booking.opendata import fhir, publish
from booking.redis_client import get_redis
from booking.services import holds, reservations
from tests.support import ANSWERS, make_clinic, make_slot, person

MODELS = {"Location": Location, "Schedule": Schedule, "Slot": FhirSlot}
ID_RULE = r"^[A-Za-z0-9\-\.]{1,64}$"


@pytest.fixture
def world(app, clock):
    app.config["OPENDATA_REFRESH_SECONDS"] = 60
    with app.app_context():
        s = db.session
        boston = make_clinic(s, clock(), name="Boston Clinic", phone="(617) 555-0100")
        hartford = make_clinic(
            s,
            clock(),
            name="Hartford Clinic",
            state="CT",
            postal_code="06103",
            latitude=41.76,
            longitude=-72.67,
        )
        slots = [
            make_slot(s, boston, clock() + timedelta(hours=h), capacity=3) for h in (1, 2, 3)
        ] + [make_slot(s, hartford, clock() + timedelta(hours=2), capacity=2, service="flu")]
        s.commit()
        return {"slots": [x.id for x in slots], "boston": boston.id, "hartford": hartford.id}


def read(client, url):
    path = urlsplit(url).path
    response = client.get(path)
    assert response.status_code == 200, url
    return response


def published(client):
    manifest = read(client, "/$bulk-publish").json
    resources = defaultdict(list)
    for entry in manifest["output"]:
        response = read(client, entry["url"])
        assert response.mimetype == "application/fhir+ndjson"
        for line in response.get_data(as_text=True).splitlines():
            resources[entry["type"]].append(json.loads(line))
    return manifest, resources


def test_manifest_and_every_resource_follow_the_spec(client, world):
    manifest, resources = published(client)
    assert set(manifest) == {"transactionTime", "request", "output", "error"}
    assert manifest["request"].endswith("/$bulk-publish")
    assert manifest["error"] == []
    slot_files = [o for o in manifest["output"] if o["type"] == "Slot"]
    assert sorted(o["extension"]["state"][0] for o in slot_files) == ["CT", "MA"]
    assert {o["type"] for o in manifest["output"]} == {"Location", "Schedule", "Slot"}
    import re

    for kind, items in resources.items():
        assert items
        for resource in items:
            MODELS[kind].model_validate(resource)  # parses and validates as FHIR R4(B)
            assert re.match(ID_RULE, resource["id"])
    location = next(r for r in resources["Location"] if r["name"] == "Boston Clinic")
    assert {t["system"] for t in location["telecom"]} == {"phone", "url"}
    assert set(location["address"]) == {"line", "city", "state", "postalCode"}
    assert location["position"] and location["identifier"]
    covid = next(r for r in resources["Schedule"] if r["id"].endswith(".covid19"))
    codes = {c["code"] for c in covid["serviceType"][0]["coding"]}
    assert codes == {"57", "covid19-immunization"}
    assert covid["actor"][0]["reference"] == f"Location/{world['boston']}"
    slot = next(r for r in resources["Slot"] if r["status"] == "free")
    urls = {e["url"] for e in slot["extension"]}
    assert urls == {fhir.BOOKING_DEEP_LINK, fhir.BOOKING_PHONE, fhir.SLOT_CAPACITY}
    assert slot["start"].endswith(("-05:00", "-04:00")) and len(slot["start"]) == 25


def test_published_state_equals_the_database_after_a_burst(app, client, world, clock):
    with app.app_context():
        s = db.session
        done = []
        for n in range(6):  # fill the first slot, take two of the second, one of the third
            slot_id = world["slots"][0 if n < 3 else 1 if n < 5 else 2]
            hold = holds.place_hold(s, slot_id, now=clock(), hold_minutes=10)
            done.append(
                reservations.confirm_hold(
                    s,
                    hold.hold_token,
                    person(n),
                    now=clock(),
                    secret_key="k",
                    answers=ANSWERS,
                    admission_ticket=None,
                ).reservation.id
            )
        reservations.cancel_reservation(s, done[3], now=clock())  # one back on the second slot
        holds.place_hold(s, world["slots"][3], now=clock(), hold_minutes=10)  # a live hold
        s.commit()
        expected = {}
        for slot in s.query(Slot).filter(Slot.id.in_(world["slots"])):
            free = slot.available_online(clock())
            expected[slot.id] = {"free": free, "busy": slot.capacity - free}
    _, resources = published(client)
    seen: dict[int, dict[str, int]] = defaultdict(lambda: {"free": 0, "busy": 0})
    for resource in resources["Slot"]:
        slot_id = int(resource["id"].split(".")[0])
        capacity = next(
            e["valueInteger"] for e in resource["extension"] if e["url"] == fhir.SLOT_CAPACITY
        )
        seen[slot_id][resource["status"]] += capacity
    assert dict(seen) == expected
    assert expected[world["slots"][0]] == {"free": 0, "busy": 3}  # sold out: busy only


def test_conditional_requests_and_etag_changes(app, client, world, clock):
    first = client.get("/$bulk-publish")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/$bulk-publish", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/$bulk-publish", headers={"If-Modified-Since": modified}).status_code == 304
    connecticut = next(
        o for o in first.json["output"] if o.get("extension", {}).get("state") == ["CT"]
    )
    url = urlsplit(connecticut["url"]).path
    file_etag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": file_etag}).status_code == 304
    with app.app_context():
        holds.place_hold(db.session, world["slots"][3], now=clock(), hold_minutes=10)
        db.session.commit()
    # Within the interval the cached copy is served; once it has passed, the change shows.
    assert client.get(url).headers["ETag"] == file_etag
    clock.advance(timedelta(seconds=61))
    changed = client.get(url, headers={"If-None-Match": file_etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != file_etag
    older = format_datetime(clock() - timedelta(days=1), usegmt=True)
    assert client.get("/$bulk-publish", headers={"If-Modified-Since": older}).status_code == 200


@pytest.mark.parametrize("accept", [None, "application/json", "application/fhir+ndjson", "*/*"])
def test_any_accept_header_works(client, world, accept):
    headers = {"Accept": accept} if accept else {}
    assert client.get("/$bulk-publish", headers=headers).status_code == 200
    assert client.get("/opendata/locations.ndjson", headers=headers).status_code == 200
    assert client.get("/opendata/nothing.ndjson").status_code == 404


def test_built_once_per_interval_not_per_request(app, client, world, monkeypatch, clock):
    calls = []
    real = publish.build_files

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("booking.opendata.views.build_files", counting)
    for _ in range(5):
        client.get("/$bulk-publish")
        client.get("/opendata/locations.ndjson")
    assert len(calls) == 1
    with app.app_context():
        assert get_redis().exists("{fairslot:opendata}:doc:manifest")


def with_params(link: str, **params: str) -> str:
    """What an aggregator does: parse the deep link and add its own parameters."""
    parts = urlsplit(link)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_deep_links_round_trip_source_and_referral(app, client, world):
    _, resources = published(client)
    slot = next(r for r in resources["Slot"] if r["status"] == "free")
    link = next(e["valueUrl"] for e in slot["extension"] if e["url"] == fhir.BOOKING_DEEP_LINK)
    assert "?" in link  # the link already has a query string
    visit = with_params(link, source="vaccinefinder", **{"booking-referral": "34d1a803-cd6c"})
    parts = urlsplit(visit)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    with client.session_transaction() as s:
        assert s["referral"] == {"source": "vaccinefinder", "booking_referral": "34d1a803-cd6c"}
    with app.app_context():
        visits = get_redis().hgetall("{fairslot:referrals}:visits")
    assert visits == {b"vaccinefinder": b"1"}


def test_summary_counts_free_places_by_clinic_and_day(app, client, world, clock):
    with app.app_context():
        holds.place_hold(db.session, world["slots"][0], now=clock(), hold_minutes=10)
        db.session.commit()
    response = client.get("/api/v1/availability")
    assert response.status_code == 200 and response.headers["ETag"]
    clinics = {c["name"]: c for c in response.json["clinics"]}
    assert sum(d["available"] for d in clinics["Boston Clinic"]["days"]) == 3 * 3 - 1
    assert sum(d["available"] for d in clinics["Hartford Clinic"]["days"]) == 2


def test_a_deep_link_offers_its_slot_first(client, world):
    _, resources = published(client)
    slot = next(r for r in resources["Slot"] if r["status"] == "free")
    link = urlsplit(
        next(e["valueUrl"] for e in slot["extension"] if e["url"] == fhir.BOOKING_DEEP_LINK)
    )
    page = client.get(f"{link.path}?{link.query}").get_data(as_text=True)
    slot_id = slot["id"].split(".")[0]
    assert "The time you chose" in page
    assert f"/slots/{slot_id}/hold" in page[page.index("The time you chose") :][:800]
    gone = client.get(f"{link.path}?slot=999999").get_data(as_text=True)
    assert "no longer free" in gone
