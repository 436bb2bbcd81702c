"""What aggregators match and parse on: Location identifiers, county and phone; every
manifest output's states; every Schedule's extension list; the booking phone; deep links that
survive the waiting room."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from booking.db import db
from booking.models import Clinic, Slot
from booking.opendata import fhir
from booking.redis_client import get_redis
from tests.opendata.feed import MANIFESTS, published
from tests.support import make_clinic, make_slot
from tests.waiting.support import CONTINUE_RE, join_form

VTRCKS = "https://cdc.gov/vaccines/programs/vtrcks"


def locations(client, path="/flu/$bulk-publish"):
    """The Locations of a manifest, by name."""
    return {r["name"]: r for r in published(client, path)[1]["Location"]}


def set_clinic(app, clinic_id, **values):
    with app.app_context():
        clinic = db.session.get(Clinic, clinic_id)
        for name, value in values.items():
            setattr(clinic, name, value)
        db.session.commit()
        get_redis().flushdb()  # the feed is rebuilt with it


def test_a_location_carries_its_vtrcks_pin_first_and_a_stable_fairslot_identifier(
    app, client, world
):
    set_clinic(app, world["boston"], vtrcks_pin="MA1234567")
    found = locations(client)
    assert found["Boston Clinic"]["identifier"] == [
        {"system": VTRCKS, "value": "MA1234567"},
        {"system": "urn:fairslot:clinic", "value": str(world["boston"])},
    ]
    # A clinic without a PIN has the FairSlot identifier alone.
    assert found["Hartford Clinic"]["identifier"] == [
        {"system": "urn:fairslot:clinic", "value": str(world["hartford"])}
    ]


def test_moving_the_site_keeps_every_identifier_and_changes_only_the_links(app, client, world):
    before = locations(client)
    app.config["PUBLIC_URL"] = "https://vaccines.example.gov/"
    with app.app_context():
        get_redis().flushdb()
    after = locations(client)
    for name, location in before.items():
        assert after[name]["identifier"] == location["identifier"]
        assert after[name]["id"] == location["id"]
        urls = [t["value"] for t in after[name]["telecom"] if t["system"] == "url"]
        assert urls == [f"https://vaccines.example.gov/clinics/{location['id']}"]
    app.config["OPENDATA_IDENTIFIER_SYSTEM"] = "https://www.mass.gov/fairslot/clinics"
    with app.app_context():
        get_redis().flushdb()
    systems = {i["system"] for r in locations(client).values() for i in r["identifier"]}
    assert systems == {"https://www.mass.gov/fairslot/clinics"}


def test_the_county_comes_from_the_zip_code(app, client, world):
    found = locations(client)
    assert found["Boston Clinic"]["address"]["district"] == "Suffolk"  # 02115
    assert found["Hartford Clinic"]["address"]["district"] == "Hartford"  # 06103
    set_clinic(app, world["boston"], postal_code="01060")  # Northampton
    assert locations(client)["Boston Clinic"]["address"]["district"] == "Hampshire"
    set_clinic(app, world["boston"], postal_code="00000")  # not a ZIP code anyone uses
    assert "district" not in locations(client)["Boston Clinic"]["address"]


def test_every_location_has_a_phone_and_a_url(app, client, world):
    set_clinic(app, world["hartford"], phone=None)
    found = locations(client)
    for location in found.values():
        assert [t["system"] for t in location["telecom"]] == ["phone", "url"]
    phones = {name: r["telecom"][0]["value"] for name, r in found.items()}
    assert phones == {"Boston Clinic": "(617) 555-0100", "Hartford Clinic": "+1-877-211-6277"}


def test_free_slots_give_the_helplines_full_number(app, client, world):
    for path in MANIFESTS:
        for slot in published(client, path)[1]["Slot"]:
            phones = [e["valueString"] for e in slot["extension"] if e["url"] == fhir.BOOKING_PHONE]
            assert phones == (["+1-877-211-6277"] if slot["status"] == "free" else [])
    app.config["BOOKING_PHONE"] = "1 (800) 555-0199"
    with app.app_context():
        get_redis().flushdb()
    slot = next(r for r in published(client)[1]["Slot"] if r["status"] == "free")
    assert {"url": fhir.BOOKING_PHONE, "valueString": "1 (800) 555-0199"} in slot["extension"]


def test_every_output_names_its_states_and_every_schedule_has_extensions(app, client, world, clock):
    with app.app_context():  # a COVID-19 clinic in Rhode Island joins the Massachusetts one
        providence = make_clinic(
            db.session,
            clock(),
            name="Providence Clinic",
            state="RI",
            postal_code="02903",
            city="Providence",
            services=["covid19"],
        )
        make_slot(db.session, providence, clock() + timedelta(hours=3))
        db.session.commit()
    states = {}
    for path in MANIFESTS:
        manifest, resources = published(client, path)
        for output in manifest["output"]:
            assert set(output) == {"type", "url", "extension"}
            file_path = urlsplit(output["url"]).path
            states[path, output["type"], file_path] = output["extension"]["state"]
        for schedule in resources["Schedule"]:
            assert isinstance(schedule["extension"], list)
    assert states["/$bulk-publish", "Location", "/opendata/locations.ndjson"] == ["MA", "RI"]
    assert states["/$bulk-publish", "Schedule", "/opendata/schedules.ndjson"] == ["MA", "RI"]
    assert states["/$bulk-publish", "Slot", "/opendata/slots-RI-2026-03-02.ndjson"] == ["RI"]
    # Flu: Boston offers it without slots, Hartford has them.
    flu = "/flu/$bulk-publish"
    assert states[flu, "Location", "/opendata/flu-locations.ndjson"] == ["CT", "MA"]
    assert states[flu, "Schedule", "/opendata/flu-schedules.ndjson"] == ["CT"]


def test_a_service_nobody_offers_lists_no_empty_files(app, client, world):
    with app.app_context():
        db.session.delete(db.session.get(Slot, world["rsv"]))
        db.session.commit()
    set_clinic(app, world["boston"], services=["covid19", "flu"])
    manifest, _ = published(client, "/rsv/$bulk-publish")
    assert manifest["output"] == []
    assert client.get("/opendata/rsv-locations.ndjson").status_code == 404
    assert client.get("/opendata/rsv-schedules.ndjson").status_code == 404


def deep_link(client):
    slot = next(r for r in published(client)[1]["Slot"] if r["status"] == "free")
    link = next(e["valueUrl"] for e in slot["extension"] if e["url"] == fhir.BOOKING_DEEP_LINK)
    return slot, urlsplit(link)


def test_a_deep_link_names_the_day_vaccine_and_slot(client, world):
    slot, link = deep_link(client)
    query = parse_qs(link.query)
    slot_id = slot["id"].split(".")[0]
    assert set(query) == {"date", "vaccine", "slot"}
    assert query["slot"] == [slot_id]
    assert query["date"] == [slot["start"][:10]]  # the clinic's local day
    assert re.fullmatch(r"[a-z0-9-]+-covid19", query["vaccine"][0])


def test_a_deep_link_keeps_its_day_vaccine_and_slot_through_the_waiting_room(build, clock):
    room = build(QUEUE_MODE="always")
    with room.app_context():
        clinic = make_clinic(db.session, clock(), services=["covid19"])
        make_slot(db.session, clinic, clock() + timedelta(days=2, hours=1))
        db.session.commit()
    browser = room.test_client()
    slot, link = deep_link(browser)
    slot_id = slot["id"].split(".")[0]
    visit = f"{link.path}?{link.query}&source=finder&booking-referral=ref-1"
    page = browser.get(visit).get_data(as_text=True)
    assert "The time you chose" in page
    held = browser.post(
        f"/slots/{slot_id}/hold",
        data={"csrf_token": _csrf(page), "date_of_birth": "04/27/1950"},
    )
    assert held.status_code == 303
    to_room = urlsplit(held.headers["Location"])
    assert to_room.path == "/waiting-room"
    back = parse_qs(to_room.query)["next"][0]
    assert back == f"{link.path}?{link.query}"  # the day, the vaccine and the slot
    assert browser.get(held.headers["Location"]).status_code == 200
    joined = join_form(browser)
    assert joined.status_code == 303
    status = browser.get("/waiting-room/status").get_data(as_text=True)
    continue_to = html.unescape(CONTINUE_RE.search(status).group(1))
    assert continue_to == back
    again = browser.get(continue_to).get_data(as_text=True)
    assert "The time you chose" in again
    assert f"/slots/{slot_id}/hold" in again[again.index("The time you chose") :][:800]
    booked = browser.post(
        f"/slots/{slot_id}/hold",
        data={"csrf_token": _csrf(again), "date_of_birth": "04/27/1950"},
    )
    assert booked.status_code == 303 and booked.headers["Location"].startswith("/book/")
    with browser.session_transaction() as session:
        assert session["referral"] == {"source": "finder", "booking_referral": "ref-1"}


def test_a_visitor_asked_for_a_birth_date_keeps_the_slot_too(client, world):
    slot, link = deep_link(client)
    slot_id = slot["id"].split(".")[0]
    page = client.get(f"{link.path}?{link.query}").get_data(as_text=True)
    asked = client.post(f"/slots/{slot_id}/hold", data={"csrf_token": _csrf(page)})
    assert asked.status_code == 303
    target = urlsplit(asked.headers["Location"])
    assert target.path == link.path
    assert parse_qs(target.query) == {**parse_qs(link.query), "dob": ["ask"]}
    answer = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert "The time you chose" in answer


def _csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
