"""SMART Scheduling Links bulk publication and the availability summary."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from booking.db import db
from booking.models import Slot
from booking.opendata import fhir, publish
from booking.redis_client import get_redis
from booking.services import holds, reservations
from tests.opendata.feed import everything, published
from tests.support import ANSWERS, person


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
    resources = everything(client)
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
    flu = client.get("/flu/$bulk-publish")
    assert (
        client.get("/flu/$bulk-publish", headers={"If-None-Match": flu.headers["ETag"]}).status_code
        == 304
    )
    connecticut = next(
        o for o in flu.json["output"] if o["type"] == "Slot" and o["extension"]["state"] == ["CT"]
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

    monkeypatch.setattr("booking.opendata.publish.build_files", counting)
    for _ in range(5):
        client.get("/$bulk-publish")
        client.get("/rsv/$bulk-publish")
        client.get("/opendata/locations.ndjson")
        client.get("/opendata/flu-slots-CT-2026-03-02.ndjson")
    assert len(calls) == 1  # one build serves every service's manifest and files
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
    boston = clinics["Boston Clinic"]["days"]
    assert sum(d["available"] for d in boston) == 3 * 3 - 1 + 2 + 2 + 1
    by_service = defaultdict(int)
    for day in boston:
        assert sum(day["by_service"].values()) == day["available"]
        for service, n in day["by_service"].items():
            by_service[service] += n
    assert dict(by_service) == {"covid19": 3 * 3 - 1 + 2 + 1, "rsv": 2}
    hartford = clinics["Hartford Clinic"]["days"]
    assert [d["by_service"] for d in hartford] == [{"flu": 2}]


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
