"""The SMART Scheduling Links conformance suite, run on the feed the demo data produces.

The demo is seeded (its 24 clinics, three days of slots, its bookings), every manifest and file
is fetched over HTTP once, with the header variants the checks need, and each check of
spec_checks, spec_resources and spec_slots must find nothing. Then each check is shown to fail
on a copy of the feed broken in the way it looks for, so none of them passes by not looking.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot as FhirSlot
from sqlalchemy import select

from booking.db import db
from booking.demo.seed import seed_demo
from booking.models import Clinic, Slot
from tests.conftest import rolled_back_app
from tests.opendata import spec_resources, spec_slots  # noqa: F401 - they register their checks
from tests.opendata.feed import MANIFESTS
from tests.opendata.spec_checks import CHECKS, DOSE, HAS_AVAILABILITY, Capture, Fetched, Visit
from tests.support import Clock

MODELS = {"Location": Location, "Schedule": Schedule, "Slot": FhirSlot}
DEEP_LINKS = 12  # free Slots whose deep links are followed, one per clinic while they last


def fetch(client: Any, url: str, headers: dict[str, str] | None = None, **query: str) -> Fetched:
    """GET a published URL on the test client."""
    answer = client.get(urlsplit(url).path, headers=headers or {}, query_string=query or None)
    return Fetched(answer.status_code, {k.lower(): v for k, v in answer.headers}, answer.get_data())


def follow(app: Any, link: str, slot_id: str) -> Visit:
    """What a finder's visitor meets: the deep link with the finder's parameters appended."""
    parts = urlsplit(link)
    query = [*parse_qsl(parts.query), ("source", "finder"), ("booking-referral", f"r-{slot_id}")]
    browser = app.test_client()
    answer = browser.get(f"{parts.path}?{urlencode(query)}")
    page = answer.get_data(as_text=True)
    at = page.find("The time you chose")
    offers = at >= 0 and f"/slots/{slot_id}/hold" in page[at : at + 800]
    with browser.session_transaction() as session:
        referral = session.get("referral")
    return Visit(answer.status_code, offers, referral)


def capture_feed(app: Any, now: datetime) -> Capture:
    """Fetch every manifest and file, and what the checks compare them with."""
    client = app.test_client()
    base = app.config["PUBLIC_URL"].rstrip("/")
    manifests = {base + path: fetch(client, base + path) for path in MANIFESTS}
    files = {
        entry["url"]: fetch(client, entry["url"])
        for manifest in manifests.values()
        for entry in manifest.json["output"]
    }
    variants: dict[tuple[str, str], Fetched] = {}
    for url, manifest in manifests.items():
        variants[url, "accept-json"] = fetch(client, url, {"Accept": "application/json"})
        variants[url, "_since"] = fetch(client, url, _since=manifest.json["transactionTime"])
    for url in files:
        variants[url, "accept-ndjson"] = fetch(client, url, {"Accept": "application/fhir+ndjson"})
    for url, answer in [*manifests.items(), *files.items()]:
        variants[url, "if-none-match"] = fetch(
            client, url, {"If-None-Match": answer.headers["etag"]}
        )
        since = {"If-Modified-Since": answer.headers["last-modified"]}
        variants[url, "if-modified-since"] = fetch(client, url, since)
    with app.app_context():
        zones = {str(c.id): c.timezone for c in db.session.scalars(select(Clinic))}
        online = {
            str(s.id): s.available_online(now)
            for s in db.session.scalars(select(Slot).where(Slot.starts_at > now))
        }
    visits = {}
    seen_schedules = set()
    for manifest in manifests.values():
        for entry in manifest.json["output"]:
            for slot in files[entry["url"]].resources if entry["type"] == "Slot" else []:
                schedule = slot["schedule"]["reference"]
                if slot["status"] != "free" or schedule in seen_schedules:
                    continue
                seen_schedules.add(schedule)
                if len(visits) < DEEP_LINKS:
                    link = next(e["valueUrl"] for e in slot["extension"] if "valueUrl" in e)
                    visits[slot["id"]] = follow(app, link, slot["id"].split(".")[0])
    return Capture(manifests, files, variants, zones, online, visits)


@pytest.fixture(scope="module")
def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    """The demo's feed, captured once for the module."""
    clock = Clock(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))
    with rolled_back_app(database_url, clock, tmp_path_factory.mktemp("conformance")) as app:
        with app.app_context():
            key = app.config["SECRET_KEY"]
            # Three days of the demo (not its fourteen) keep every kind of file and check in play
            # at a fraction of the seeding and fetching time.
            db.transaction(lambda s: seed_demo(s, now=clock(), secret_key=key, days=3))
        yield capture_feed(app, clock())


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_the_demo_feed_meets_the_requirement(demo, name):
    requirement, check = CHECKS[name]
    assert check(demo) == [], requirement


def test_the_demo_feed_is_large_enough_to_mean_something(demo):
    kinds = {}
    for manifest in demo.manifests.values():
        for entry in manifest.json["output"]:
            kinds[entry["type"]] = kinds.get(entry["type"], 0) + len(
                demo.files[entry["url"]].resources
            )
    assert kinds["Location"] >= 24 and kinds["Schedule"] >= 40 and kinds["Slot"] > 10_000
    assert len(demo.visits) == DEEP_LINKS


def test_the_resources_are_valid_fhir(demo):
    """Every Location and Schedule, and every tenth Slot (one function makes them all; the
    checks above read every one)."""
    for fetched in demo.files.values():
        kind = fetched.resources[0]["resourceType"]
        step = 10 if kind == "Slot" else 1
        for resource in fetched.resources[::step]:
            MODELS[kind].model_validate(resource)


# --- Each check fails on a feed broken the way it looks for ---------------------------------


def small(capture: Capture, lines: int = 300) -> Capture:
    """The capture with each file cut to its first lines (the mutations' fast starting point)."""

    def cut(fetched: Fetched) -> Fetched:
        rows = [row for row in fetched.body.split(b"\n") if row]
        busy = [row for row in rows[lines:] if b'"status":"busy"' in row][:20]  # some stay
        return replace(fetched, body=b"".join(row + b"\n" for row in rows[:lines] + busy))

    files = {url: cut(f) for url, f in capture.files.items()}
    variants = {
        key: cut(f) if key[1] == "accept-ndjson" else f for key, f in capture.variants.items()
    }
    return replace(capture, files=files, variants=variants)


def with_body(fetched: Fetched, body: Any) -> Fetched:
    """The answer with another JSON (an object) or NDJSON (a list) body."""
    if isinstance(body, list):
        data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in body)
    else:
        data = json.dumps(body, separators=(",", ":")).encode()
    return replace(fetched, body=data)


def edit_files(capture: Capture, kind: str, change: Callable[[list[dict[str, Any]]], None]):
    """Change the resources of every file of one type."""
    files = dict(capture.files)
    for url, fetched in capture.files.items():
        if fetched.resources and fetched.resources[0]["resourceType"] == kind:
            resources = json.loads(json.dumps(fetched.resources))
            change(resources)
            files[url] = with_body(fetched, resources)
    return replace(capture, files=files)


def edit_manifests(capture: Capture, change: Callable[[dict[str, Any]], None]) -> Capture:
    manifests = {}
    for url, fetched in capture.manifests.items():
        body = json.loads(fetched.body)
        change(body)
        manifests[url] = with_body(fetched, body)
    return replace(capture, manifests=manifests)


def edit_variant(capture: Capture, variant: str, **changes: Any) -> Capture:
    variants = dict(capture.variants)
    key = next(k for k in variants if k[1] == variant)
    variants[key] = replace(variants[key], **changes)
    return replace(capture, variants=variants)


def first(change: Callable[[dict[str, Any]], None]) -> Callable[[list[dict[str, Any]]], None]:
    return lambda resources: change(resources[0])


def first_free(change: Callable[[dict[str, Any]], None]) -> Callable[[list[dict[str, Any]]], None]:
    return lambda resources: change(next(r for r in resources if r["status"] == "free"))


def slot_output(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in manifest["output"] if o["type"] == "Slot")


def covid_schedule(resource: dict[str, Any]) -> None:
    resource["serviceType"][0]["coding"] = resource["serviceType"][0]["coding"][:1]


def to_utc_offset(slot: dict[str, Any]) -> None:
    start = datetime.fromisoformat(slot["start"]).astimezone(UTC)
    slot["start"] = start.isoformat()  # the same instant, "+00:00" rather than the local offset


BREAKS: dict[str, Callable[[Capture], Capture]] = {
    "manifest-url": lambda c: replace(
        c, manifests={u.replace("$bulk-publish", "bulk.json"): f for u, f in c.manifests.items()}
    ),
    "manifest-fields": lambda c: edit_manifests(
        c, lambda m: m.update(transactionTime="2026-03-02 13:00")
    ),
    "files-ndjson": lambda c: replace(
        c,
        files={
            u: replace(f, body=json.dumps(f.resources[0], indent=1).encode() + b"\n")
            for u, f in c.files.items()
        },
    ),
    "accept-headers": lambda c: edit_variant(c, "accept-json", body=b"{}"),
    "state-hints": lambda c: edit_manifests(
        c, lambda m: slot_output(m).update(extension={"state": ["CT"]})
    ),
    "cache-control": lambda c: replace(
        c, files={u: replace(f, headers={}) for u, f in c.files.items()}
    ),
    "conditional-requests": lambda c: edit_variant(c, "if-modified-since", status=200),
    "since-parameter": lambda c: edit_variant(c, "_since", body=b'{"output":[]}'),
    "open-access": lambda c: replace(
        c, manifests={u: replace(f, status=401) for u, f in c.manifests.items()}
    ),
    "ids": lambda c: edit_files(c, "Location", first(lambda r: r.update(id="a b"))),
    "location-required": lambda c: edit_files(
        c, "Location", first(lambda r: r["address"].pop("city"))
    ),
    "location-phone-and-url": lambda c: edit_files(
        c, "Location", first(lambda r: r.update(telecom=r["telecom"][:1]))
    ),
    "location-optional-fields": lambda c: edit_files(
        c, "Location", first(lambda r: r.update(position={"latitude": "42", "longitude": -71}))
    ),
    "vtrcks-pin": lambda c: edit_files(
        c, "Location", first(lambda r: r["identifier"][0].update(system="https://cdc.gov/VTrckS"))
    ),
    "fairslot-county-and-identifier": lambda c: edit_files(
        c, "Location", first(lambda r: r["address"].pop("district"))
    ),
    "schedule-actor": lambda c: edit_files(
        c, "Schedule", first(lambda r: r.update(actor=[{"reference": "Location/999999"}]))
    ),
    "schedule-service-type": lambda c: edit_files(
        c, "Schedule", lambda rs: [covid_schedule(r) for r in rs]
    ),
    "vaccine-product": lambda c: edit_files(
        c, "Schedule", first(lambda r: r["extension"].append(r["extension"][0]))
    ),
    "vaccine-dose": lambda c: edit_files(
        c,
        "Schedule",
        first(lambda r: r["extension"].append({"url": DOSE, "valueInteger": 3})),
    ),
    "no-has-availability": lambda c: edit_files(
        c,
        "Schedule",
        first(lambda r: r["extension"].append({"url": HAS_AVAILABILITY, "valueCode": "some"})),
    ),
    "slot-schedule": lambda c: edit_files(c, "Slot", first(lambda r: r.update(status="maybe"))),
    "busy-slots": lambda c: edit_files(
        c, "Slot", lambda rs: rs.__setitem__(slice(None), [r for r in rs if r["status"] == "free"])
    ),
    "slot-times": lambda c: edit_files(c, "Slot", first(to_utc_offset)),
    "slot-extensions": lambda c: edit_files(
        c,
        "Slot",
        first_free(lambda r: r["extension"][1].update(valueString=None, valueInteger=211)),
    ),
    "aggregated-slots": lambda c: edit_files(
        c, "Slot", lambda rs: rs.append({**rs[0], "id": rs[0]["id"] + "x"})
    ),
    "free-is-bookable": lambda c: edit_files(
        c, "Slot", first_free(lambda r: r["extension"][-1].update(valueInteger=10_000))
    ),
    "deep-links": lambda c: replace(
        c, visits={k: replace(v, offers_slot=False) for k, v in c.visits.items()}
    ),
}


def test_every_check_has_a_break():
    assert set(BREAKS) == set(CHECKS)


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_check_finds_its_break(demo, name):
    start = small(demo)
    _, check = CHECKS[name]
    assert check(start) == []
    assert check(BREAKS[name](start)) != []
