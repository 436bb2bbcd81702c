"""SMART Scheduling Links bulk publication and the availability summary."""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from datetime import timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FhirSlot
from sqlalchemy import select

from booking.db import db
from booking.models import Slot, VaccineProduct
from booking.opendata import fhir, publish
from booking.redis_client import get_redis
from booking.services import holds, reservations
from booking.services.products import CATALOGUE
from tests.opendata import smart_conformance as check
from tests.opendata.smart_conformance import check_feed
from tests.support import make_clinic, make_slot, person

MODELS = {"Location": Location, "Schedule": Schedule, "Slot": FhirSlot}
ID_RULE = r"^[A-Za-z0-9\-\.]{1,64}$"
MANIFESTS = ("/$bulk-publish", "/covid19/$bulk-publish", "/flu/$bulk-publish", "/rsv/$bulk-publish")


def product(session, key):
    return session.scalar(select(VaccineProduct).where(VaccineProduct.key == key))


@pytest.fixture
def world(app, clock):
    app.config["OPENDATA_REFRESH_SECONDS"] = 60
    with app.app_context():
        s = db.session
        boston = make_clinic(
            s,
            clock(),
            name="Boston Clinic",
            phone="(617) 555-0100",
            services=["covid19", "flu", "rsv"],
        )
        hartford = make_clinic(
            s,
            clock(),
            name="Hartford Clinic",
            state="CT",
            postal_code="06103",
            latitude=41.76,
            longitude=-72.67,
            services=["flu"],
        )
        at = {h: clock() + timedelta(hours=h) for h in range(1, 6)}
        slots = [make_slot(s, boston, at[h], capacity=3) for h in (1, 2, 3)]  # Pfizer
        slots.append(make_slot(s, hartford, at[2], capacity=2, service="flu"))
        moderna = product(s, "moderna-covid19")
        slots.append(make_slot(s, boston, at[1], capacity=2, product_id=moderna.id))
        slots.append(make_slot(s, boston, at[4], capacity=2, service="rsv"))
        janssen = product(s, "janssen-covid19")
        slots.append(make_slot(s, boston, at[5], capacity=1, product_id=janssen.id))
        s.commit()
        return {
            "slots": [x.id for x in slots],
            "boston": boston.id,
            "hartford": hartford.id,
            "flu": slots[3].id,
            "rsv": slots[5].id,
            "moderna": slots[4].id,
            "janssen": slots[6].id,
        }


def read(client, url):
    path = urlsplit(url).path
    response = client.get(path)
    assert response.status_code == 200, url
    return response


def feed(client, path="/$bulk-publish"):
    """A manifest, each of its files' resources by URL, and all its resources by type."""
    manifest = read(client, path).json
    files = {}
    resources = defaultdict(list)
    for entry in manifest["output"]:
        response = read(client, entry["url"])
        assert response.mimetype == "application/fhir+ndjson"
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
        files[entry["url"]] = lines
        resources[entry["type"]].extend(lines)
    return manifest, files, resources


def published(client, path="/$bulk-publish"):
    manifest, _files, resources = feed(client, path)
    return manifest, resources


def everything(client):
    """Every service's resources together (what the default manifest alone no longer holds)."""
    merged = defaultdict(list)
    for path in MANIFESTS[1:]:
        for kind, items in published(client, path)[1].items():
            merged[kind].extend(items)
    return merged


def slot_ids(resources):
    return {int(r["id"].split(".")[0]) for r in resources["Slot"]}


def cvx_of(service):
    return {p.cvx_code for p in CATALOGUE if p.service == service}


def extension_values(resource, url):
    return [
        next(v for k, v in e.items() if k.startswith("value"))
        for e in resource.get("extension", [])
        if e["url"] == url
    ]


@pytest.mark.parametrize("path", MANIFESTS)
def test_every_manifest_passes_the_strict_check_and_is_valid_fhir(app, client, world, path):
    manifest, files, resources = feed(client, path)
    service = path.strip("/").split("/")[0] if path.count("/") == 2 else "covid19"
    url = app.config["PUBLIC_URL"].rstrip("/") + path
    problems = check_feed(
        manifest, url, files, covid_only=service == "covid19", cvx_codes=cvx_of(service)
    )
    assert problems == []
    assert set(manifest) == {"transactionTime", "request", "output", "error"}
    assert {o["type"] for o in manifest["output"]} == {"Location", "Schedule", "Slot"}
    for kind, items in resources.items():
        assert items, kind
        for resource in items:
            MODELS[kind].model_validate(resource)  # parses and validates as FHIR R4(B)
            assert re.match(ID_RULE, resource["id"])


def test_locations_and_slots_carry_what_finders_read(client, world):
    manifest, resources = published(client)
    assert [o["extension"]["state"] for o in manifest["output"] if o["type"] == "Slot"] == [["MA"]]
    location = next(r for r in resources["Location"] if r["name"] == "Boston Clinic")
    assert {t["system"] for t in location["telecom"]} == {"phone", "url"}
    assert set(location["address"]) == {"line", "city", "state", "postalCode"}
    assert location["position"] and location["identifier"]
    slot = next(r for r in resources["Slot"] if r["status"] == "free")
    urls = {e["url"] for e in slot["extension"]}
    assert urls == {fhir.BOOKING_DEEP_LINK, fhir.BOOKING_PHONE, fhir.SLOT_CAPACITY}
    assert slot["start"].endswith(("-05:00", "-04:00")) and len(slot["start"]) == 25


def test_the_default_manifest_never_shows_a_flu_or_rsv_place(client, world):
    manifest, resources = published(client)
    covid = slot_ids(resources)
    assert world["flu"] not in covid and world["rsv"] not in covid
    assert covid == {world["slots"][n] for n in (0, 1, 2)} | {world["moderna"], world["janssen"]}
    assert all(check.is_covid19(r) for r in resources["Schedule"])
    assert "Hartford Clinic" not in {r["name"] for r in resources["Location"]}  # flu only
    assert slot_ids(published(client, "/flu/$bulk-publish")[1]) == {world["flu"]}
    assert slot_ids(published(client, "/rsv/$bulk-publish")[1]) == {world["rsv"]}
    twin = published(client, "/covid19/$bulk-publish")[0]
    assert twin["output"] == manifest["output"]
    assert twin["request"].endswith("/covid19/$bulk-publish")
    for path in ("/flu/$bulk-publish", "/rsv/$bulk-publish"):
        other = published(client, path)[1]
        assert not any(check.is_covid19(r) for r in other["Schedule"])
        assert {u["url"] for u in published(client, path)[0]["output"]}.isdisjoint(
            {u["url"] for u in manifest["output"]}
        )


def test_a_schedule_per_clinic_and_product_with_its_cvx_code_and_doses(client, world):
    resources = everything(client)
    schedules = {r["id"]: r for r in resources["Schedule"]}
    products = {
        r["id"]: extension_values(r, fhir.VACCINE_PRODUCT)[0]["code"] for r in schedules.values()
    }
    boston_covid = sorted(
        code
        for sid, code in products.items()
        if sid.startswith(f"{world['boston']}.") and check.is_covid19(schedules[sid])
    )
    assert boston_covid == ["207", "208", "212"]  # Moderna, Pfizer-BioNTech, Janssen
    doses = {
        code: extension_values(schedules[sid], fhir.VACCINE_DOSE) for sid, code in products.items()
    }
    assert doses["207"] == [1, 2] and doses["208"] == [1, 2]  # two-dose courses
    assert doses["212"] == [1] and doses["150"] == [1] and doses["303"] == [1]
    for schedule in schedules.values():
        coding = extension_values(schedule, fhir.VACCINE_PRODUCT)[0]
        assert coding["system"] == "http://hl7.org/fhir/sid/cvx" and coding["display"]
    flu = next(s for sid, s in schedules.items() if products[sid] == "150")
    assert [c["code"] for c in flu["serviceType"][0]["coding"]] == ["57"]
    assert flu["serviceType"][0]["text"] == "Influenza immunization"
    expected = {
        world["slots"][0]: "208",
        world["moderna"]: "207",  # the same hour as Pfizer's, on its own Schedule
        world["janssen"]: "212",
        world["flu"]: "150",
        world["rsv"]: "303",
    }
    for slot in resources["Slot"]:
        slot_id = int(slot["id"].split(".")[0])
        if slot_id in expected:
            schedule_id = slot["schedule"]["reference"].removeprefix("Schedule/")
            assert products[schedule_id] == expected[slot_id]


def test_the_check_refuses_what_a_strict_validator_would(app, client, world):
    url = app.config["PUBLIC_URL"].rstrip("/") + "/$bulk-publish"
    manifest, files, _ = feed(client)
    flu_manifest, flu_files, _ = feed(client, "/flu/$bulk-publish")
    schedule_url = next(o["url"] for o in manifest["output"] if o["type"] == "Schedule")
    slot_url = next(o["url"] for o in manifest["output"] if o["type"] == "Slot")

    def problems_with(change):
        altered = copy.deepcopy(files)
        change(altered[schedule_url][0], altered)
        covid = cvx_of("covid19")
        return "\n".join(check_feed(manifest, url, altered, covid_only=True, cvx_codes=covid))

    def product_coding(schedule):
        return next(e for e in schedule["extension"] if e["url"] == fhir.VACCINE_PRODUCT)

    def mixed_in(_schedule, altered):
        flu_schedule_url = next(o["url"] for o in flu_manifest["output"] if o["type"] == "Schedule")
        flu_slot_url = next(o["url"] for o in flu_manifest["output"] if o["type"] == "Slot")
        altered[schedule_url] += flu_files[flu_schedule_url]
        altered[slot_url] += flu_files[flu_slot_url]

    def generic_only(schedule, _):  # what FairSlot published before: code 57 alone
        schedule["serviceType"][0]["coding"] = schedule["serviceType"][0]["coding"][:1]

    cases = {
        "not a covid19-immunization Schedule": [mixed_in, generic_only],
        "is not coded in http://hl7.org/fhir/sid/cvx": [
            lambda s, _: product_coding(s)["valueCoding"].update(system="http://example.org/cvx")
        ],
        "is not CVX": [lambda s, _: product_coding(s)["valueCoding"].update(code="MOD")],
        "vaccine-product extension repeats": [
            lambda s, _: s["extension"].append(copy.deepcopy(product_coding(s)))
        ],
        "is not 1 or 2": [
            lambda s, _: s["extension"].append({"url": fhir.VACCINE_DOSE, "valueInteger": 3}),
            lambda s, _: s["extension"].append({"url": fhir.VACCINE_DOSE, "valueInteger": "1"}),
        ],
        "must carry exactly valueInteger": [
            lambda s, _: s["extension"].append({"url": fhir.VACCINE_DOSE, "valueString": "1"})
        ],
        "a dose number repeats": [
            lambda s, _: s["extension"].append({"url": fhir.VACCINE_DOSE, "valueInteger": 1})
        ],
        "is not in this manifest's Schedule files": [
            lambda _s, altered: altered[slot_url][0]["schedule"].update(reference="Schedule/9.x")
        ],
        "not expected here": [lambda s, _: product_coding(s)["valueCoding"].update(code="150")],
    }
    for expected, changes in cases.items():
        for change in changes:
            assert expected in problems_with(change), expected
    assert check_feed(manifest, url.replace("$bulk", "bulk"), files, covid_only=True)
    assert check_feed(flu_manifest, url, flu_files, covid_only=True)  # flu read as COVID-19


def test_unknown_services_and_files_of_no_current_manifest_are_not_served(app, client, world):
    assert client.get("/measles/$bulk-publish").status_code == 404
    assert client.get("/opendata/slots-CT.ndjson").status_code == 404  # Hartford has flu only
    assert client.get("/opendata/flu-slots-CT.ndjson").status_code == 200
    with app.app_context():  # a file an earlier build published and this one does not
        get_redis().hset(
            "{fairslot:opendata}:doc:file:slots-NY.ndjson",
            mapping={"body": b"{}", "etag": '"x"', "last_modified": "2021-01-01T00:00:00+00:00"},
        )
    assert client.get("/opendata/slots-NY.ndjson").status_code == 404


def test_published_state_equals_the_database_after_a_burst(app, client, world, clock):
    with app.app_context():
        s = db.session
        done = []
        for n in range(6):  # fill the first slot, take two of the second, one of the third
            slot_id = world["slots"][0 if n < 3 else 1 if n < 5 else 2]
            hold = holds.place_hold(s, slot_id, now=clock(), hold_minutes=10)
            done.append(
                reservations.confirm_hold(
                    s, hold.hold_token, person(n), now=clock(), secret_key="k"
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
        o for o in flu.json["output"] if o.get("extension", {}).get("state") == ["CT"]
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
        client.get("/rsv/$bulk-publish")
        client.get("/opendata/locations.ndjson")
        client.get("/opendata/flu-slots-CT.ndjson")
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
