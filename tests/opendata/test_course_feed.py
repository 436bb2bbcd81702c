"""Places booked for dose 2 are busy in the open feed, like any booked place."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from booking.db import db
from booking.services import holds, reservations
from tests.opendata.feed import published
from tests.support import ANSWERS, make_clinic, make_slot, person, two_dose_product

BOSTON = ZoneInfo("America/New_York")


def capacity(resource):
    (count,) = [e["valueInteger"] for e in resource["extension"] if "valueInteger" in e]
    return count


def test_a_place_booked_for_dose_two_is_busy_in_the_feed(app, client, clock):
    # Dose 2 lies three weeks out: publish that far, as a state with a longer horizon would.
    app.config["BOOKING_DAYS"] = 30
    with app.app_context():
        s = db.session
        clinic = make_clinic(s, clock(), name="Course Clinic")
        pfizer = two_dose_product(s).id
        start = clock() + timedelta(days=2)
        local = start.astimezone(BOSTON).replace(tzinfo=None) + timedelta(days=21)
        first = make_slot(s, clinic, start, product_id=pfizer, capacity=3)
        second = make_slot(
            s, clinic, local.replace(tzinfo=BOSTON).astimezone(UTC), product_id=pfizer, capacity=3
        )
        hold = holds.place_hold(s, first.id, now=clock(), hold_minutes=10)
        done = reservations.confirm_hold(
            s,
            hold.hold_token,
            person(1),
            now=clock(),
            secret_key="k",
            answers=ANSWERS,
            admission_ticket=None,
        )
        assert done.second_dose is not None and done.second_dose.slot_id == second.id
        s.commit()
        ids = {"first": first.id, "second": second.id}
    _, resources = published(client)
    by_id = {r["id"]: r for r in resources["Slot"]}
    for slot_id in ids.values():
        # One of three places gone on each day: dose 1's and dose 2's.
        assert capacity(by_id[f"{slot_id}.free"]) == 2
        assert by_id[f"{slot_id}.busy"]["status"] == "busy"
        assert capacity(by_id[f"{slot_id}.busy"]) == 1
