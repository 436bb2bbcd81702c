"""Each service in its own manifest; COVID-19 alone at /$bulk-publish; products and doses."""

from __future__ import annotations

import copy
import re
from datetime import timedelta

import pytest

from booking.db import db
from booking.models import Clinic
from booking.opendata import fhir
from booking.redis_client import get_redis
from tests.opendata import smart_conformance as check
from tests.opendata.conftest import product
from tests.opendata.feed import (
    ID_RULE,
    MANIFESTS,
    MODELS,
    cvx_of,
    everything,
    extension_values,
    feed,
    published,
    slot_ids,
)
from tests.opendata.smart_conformance import check_feed
from tests.support import make_slot


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
    assert set(location["address"]) == {"line", "city", "state", "postalCode", "district"}
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


def test_a_schedule_per_clinic_and_product_with_its_cvx_code_and_doses(app, client, world, clock):
    with app.app_context():  # a two-dose course beside the world's one-dose COVID-19 slots
        boston = db.session.get(Clinic, world["boston"])
        pfizer = product(db.session, "pfizer-covid19")
        make_slot(db.session, boston, clock() + timedelta(hours=6), product_id=pfizer.id)
        db.session.commit()
        get_redis().flushdb()  # the feed is rebuilt with it
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
        world["slots"][0]: "212",  # make_slot's one-dose COVID-19 default
        world["moderna"]: "207",  # the same hour as another product's, on its own Schedule
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
    for service in ("measles", "FLU", "covid19.", "x" * 300, "opendata"):
        assert client.get(f"/{service}/$bulk-publish").status_code == 404, service
    assert client.get("/flu%00/$bulk-publish").status_code == 400  # refused at the edge
    assert (
        client.get("/opendata/slots-CT-2026-03-02.ndjson").status_code == 404
    )  # Hartford has flu only
    assert client.get("/opendata/flu-slots-CT-2026-03-02.ndjson").status_code == 200
    with app.app_context():  # a file an earlier build published and this one does not
        get_redis().hset(
            "{fairslot:opendata}:doc:file:slots-NY-2026-03-02.ndjson",
            mapping={"body": b"{}", "etag": '"x"', "last_modified": "2021-01-01T00:00:00+00:00"},
        )
    assert client.get("/opendata/slots-NY-2026-03-02.ndjson").status_code == 404
