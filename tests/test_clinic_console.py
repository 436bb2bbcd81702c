"""The clinic console: bulk schedules, capacity, closing, roster, check-in, CSV, isolation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.messages.models import OutboxMessage
from booking.models import Reservation, Slot
from booking.services import holds, reservations, staff
from booking.staff.models import AuditEntry
from tests.support import csrf_from, make_clinic, make_slot, person

PASSWORD = "clinic password 123"


@pytest.fixture
def setup(app, clock):
    with app.app_context():
        s = db.session
        mine = make_clinic(s, clock(), name="Mine")
        other = make_clinic(s, clock(), name="Other")
        start = clock() + timedelta(days=1)
        slot = make_slot(s, mine, start, capacity=3)
        other_slot = make_slot(s, other, start, capacity=3)
        booked = []
        for n, target in enumerate([slot, slot, other_slot]):
            hold = holds.place_hold(s, target.id, now=clock(), hold_minutes=10)
            who = person(
                n, last_name='=HYPERLINK("x")' if n == 1 else "Resident", email="r@example.org"
            )
            booked.append(
                reservations.confirm_hold(
                    s, hold.hold_token, who, now=clock(), secret_key="k"
                ).reservation.id
            )
        for role in ("clinic_staff", "clinic_manager"):
            staff.create_user(
                s,
                email=f"{role}@c.example",
                display_name=role,
                role=role,
                password=PASSWORD,
                now=clock(),
                clinic_ids=(mine.id,),
            )
        s.commit()
        day = start.astimezone(ZoneInfo("America/New_York")).date()
        return {
            "mine": mine.id,
            "other": other.id,
            "slot": slot.id,
            "other_slot": other_slot.id,
            "booked": booked,
            "day": day,
        }


def client_for(app, role):
    client = app.test_client()
    page = client.get("/staff/sign-in").get_data(as_text=True)
    client.post(
        "/staff/sign-in",
        data={"email": f"{role}@c.example", "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    return client


def token(client):
    return csrf_from(client.get("/staff/").get_data(as_text=True))


def test_bulk_creation_previews_then_creates_once(app, setup, clock):
    manager = client_for(app, "clinic_manager")
    url = f"/clinic/{setup['mine']}/schedule"
    first = (clock() + timedelta(days=10)).date()
    form = {
        "first": first.isoformat(),
        "last": (first + timedelta(days=6)).isoformat(),
        "weekdays": ["0", "1", "2", "3", "4"],
        "opens": "09:00",
        "closes": "12:00",
        "slot_minutes": "30",
        "capacity": "4",
        "service": "covid19",
        "csrf_token": token(manager),
    }
    preview = manager.post(url, data=form)
    assert "30 slots planned; 30 do not exist yet" in preview.get_data(as_text=True)
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Slot))
    created = manager.post(url, data={**form, "action": "create"}).get_data(as_text=True)
    assert "Created 30 new slots" in created
    again = manager.post(url, data={**form, "action": "create"}).get_data(as_text=True)
    assert "Created 0 new slots" in again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Slot)) == before + 30
    bad = manager.post(url, data={**form, "closes": "08:00"})
    assert bad.status_code == 422
    assert "Closing time must be after opening time." in bad.get_data(as_text=True)
    worse = manager.post(url, data={**form, "first": "2021-02-30", "capacity": "lots"})
    assert worse.status_code == 422
    assert "That date does not exist." in worse.get_data(as_text=True)


def test_capacity_never_drops_below_booked(app, setup):
    manager = client_for(app, "clinic_manager")
    url = f"/clinic/{setup['mine']}/slots/{setup['slot']}/capacity"
    low = manager.post(url, data={"capacity": "1", "csrf_token": token(manager)})
    assert low.status_code == 303 and "below" in low.headers["Location"]
    ok = manager.post(url, data={"capacity": "2", "csrf_token": token(manager)})
    assert ok.status_code == 303 and "error" not in ok.headers["Location"]
    with app.app_context():
        assert db.session.get(Slot, setup["slot"]).capacity == 2
    other = manager.post(
        f"/clinic/{setup['mine']}/slots/{setup['other_slot']}/capacity",
        data={"capacity": "9", "csrf_token": token(manager)},
    )
    assert other.status_code == 404


def test_closing_a_day_cancels_and_notifies_everyone_booked_in_it(app, setup):
    manager = client_for(app, "clinic_manager")
    response = manager.post(
        f"/clinic/{setup['mine']}/close",
        data={
            "date": setup["day"].isoformat(),
            "reason": "Power cut",
            "csrf_token": token(manager),
        },
    )
    assert response.status_code == 303
    with app.app_context():
        mine = setup["booked"][:2]
        statuses = db.session.scalars(select(Reservation.status).where(Reservation.id.in_(mine)))
        assert set(statuses) == {"cancelled"}
        notices = db.session.scalars(
            select(OutboxMessage.reservation_id).where(OutboxMessage.kind.contains("cancel"))
        ).all()
        assert set(mine) <= set(notices)
        assert db.session.get(Reservation, setup["booked"][2]).status == "confirmed"
        slot = db.session.get(Slot, setup["slot"])
        assert (slot.is_open, slot.booked) == (False, 0)


def test_roster_search_check_in_no_show_and_audit(app, setup):
    staff_client = client_for(app, "clinic_staff")
    roster = staff_client.get(f"/clinic/{setup['mine']}/roster?date={setup['day']}")
    body = roster.get_data(as_text=True)
    assert roster.status_code == 200 and body.count('class="code-inline"') == 2
    found = staff_client.get(f"/clinic/{setup['mine']}/roster?date={setup['day']}&q=HYPER")
    assert found.get_data(as_text=True).count('class="code-inline"') == 1
    first, second = setup["booked"][:2]
    base = f"/clinic/{setup['mine']}/reservations"
    csrf = token(staff_client)
    checked = staff_client.post(
        f"{base}/{first}/attendance", data={"status": "checked_in", "csrf_token": csrf}
    )
    missed = staff_client.post(
        f"{base}/{second}/attendance", data={"status": "no_show", "csrf_token": csrf}
    )
    assert checked.status_code == missed.status_code == 303
    other = setup["booked"][2]
    refused = staff_client.post(
        f"{base}/{other}/attendance", data={"status": "no_show", "csrf_token": csrf}
    )
    assert refused.status_code == 404
    with app.app_context():
        assert db.session.get(Reservation, first).status == "checked_in"
        assert db.session.get(Reservation, second).status == "no_show"
        assert db.session.get(Reservation, other).status == "confirmed"
        assert db.session.get(Slot, setup["slot"]).booked == 2  # still counted as booked
        actions = set(db.session.scalars(select(AuditEntry.action)).all())
    assert {"clinic.view_roster", "clinic.checked_in", "clinic.no_show"} <= actions
    # Clinic staff (not managers) cannot change capacity or close.
    closing = staff_client.post(
        f"/clinic/{setup['mine']}/close", data={"date": str(setup["day"]), "csrf_token": csrf}
    )
    assert closing.status_code == 403


def test_csv_export_is_complete_and_safe(app, setup):
    staff_client = client_for(app, "clinic_staff")
    day = setup["day"].isoformat()
    response = staff_client.get(f"/clinic/{setup['mine']}/export.csv?from={day}&to={day}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2
    assert {r["last_name"] for r in rows} == {"Resident", '\'=HYPERLINK("x")'}
    with app.app_context():
        exports = db.session.scalar(
            select(func.count()).where(AuditEntry.action == "clinic.export_csv")
        )
    assert exports == 1


def test_other_clinics_are_invisible(app, setup):
    staff_client = client_for(app, "clinic_staff")
    for path in (f"/clinic/{setup['other']}/roster", f"/clinic/{setup['other']}/export.csv"):
        assert staff_client.get(path).status_code == 404
    index = staff_client.get("/clinic/").get_data(as_text=True)
    assert "Mine" in index and "Other" not in index
