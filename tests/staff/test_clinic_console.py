"""The clinic console: bulk schedules, capacity, closing, roster, check-in and no-show, CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import Clinic, OutboxMessage, Reservation, Slot
from booking.services import holds, schedule
from booking.services.errors import Conflict, NotFound
from tests.staff.clinic_support import BOSTON, audit_actions, build_world, client_for, token


@pytest.fixture
def world(app, clock):
    return build_world(app, clock)


def schedule_form(first: date, **overrides):
    form = {
        "first": first.isoformat(),
        "last": (first + timedelta(days=6)).isoformat(),
        "weekdays": ["0", "1", "2", "3", "4"],
        "opens": "09:00",
        "closes": "12:00",
        "slot_minutes": "30",
        "capacity": "4",
        "service": "covid19",
    }
    form.update(overrides)
    return form


def count_slots(app, clinic_id):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Slot).where(Slot.clinic_id == clinic_id)
        )


def test_bulk_creation_twice_creates_the_schedule_once(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    url = f"/clinic/{world['mine']}/schedule"
    first = date(2026, 3, 16)  # a Monday; Mon-Fri, 09:00-12:00, 30 minutes: 5 x 6 slots
    form = {**schedule_form(first), "csrf_token": token(manager)}
    before = count_slots(app, world["mine"])
    preview = manager.post(url, data=form).get_data(as_text=True)
    assert "30 slots planned; 30 do not exist yet" in preview
    assert count_slots(app, world["mine"]) == before  # a preview creates nothing
    # Day by day: five days of six slots, 9:00 AM to 11:30 AM; the test clock's horizon is
    # March 2 + 14 days, so March 16 onward lies past it, which the preview says.
    days = preview.split('id="preview-days"')[1].split("</table>")[0]
    assert days.count("<tr><td") == 5 and days.count(">6</td>") == 5
    assert "Monday, March 16, 2026" in days
    assert "9:00\u202fAM" in days or "9:00 AM" in days
    assert 'id="beyond-horizon"' in preview and "past the horizon" in days
    assert "Created 30 new slots" in manager.post(url, data={**form, "action": "create"}).text
    assert "Created 0 new slots" in manager.post(url, data={**form, "action": "create"}).text
    assert "30 slots planned; 0 do not exist yet" in manager.post(url, data=form).text
    assert count_slots(app, world["mine"]) == before + 30
    with app.app_context():
        made = db.session.scalars(
            select(Slot).where(Slot.clinic_id == world["mine"], Slot.capacity == 4)
        ).all()
        local = sorted(slot.starts_at.astimezone(BOSTON) for slot in made)
        assert local[0] == datetime(2026, 3, 16, 9, 0, tzinfo=BOSTON)
        assert local[-1] == datetime(2026, 3, 20, 11, 30, tzinfo=BOSTON)
        assert {t.weekday() for t in local} == {0, 1, 2, 3, 4}
        assert all(slot.ends_at - slot.starts_at == timedelta(minutes=30) for slot in made)
    # Widening the plan adds only what is missing.
    wider = {**form, "closes": "13:00", "action": "create"}
    assert "Created 10 new slots" in manager.post(url, data=wider).text
    assert [a for a in audit_actions(app) if a[0] == "clinic.bulk_schedule"] == [
        ("clinic.bulk_schedule", str(world["mine"]), world["mine"])
    ] * 3


def test_creation_is_idempotent_in_the_database_too(app, world, clock, monkeypatch):
    # Two managers pressing "create" at once both see every slot as missing; the unique index
    # and ON CONFLICT DO NOTHING still create each slot once and count only the new ones.
    with app.app_context():
        s = db.session
        clinic = s.get(Clinic, world["mine"])
        values = dict(
            first=date(2026, 3, 16),
            last=date(2026, 3, 16),
            weekdays={0},
            opens=time(9),
            closes=time(11),
            slot_minutes=60,
            capacity=2,
            service="flu",
        )
        plan = schedule.plan_schedule(clinic, now=clock(), **values)
        assert schedule.create_schedule(s, clinic, plan, now=clock()) == 2
        monkeypatch.setattr(schedule, "missing_windows", lambda _s, _c, p: p.windows)
        wider = schedule.plan_schedule(clinic, now=clock(), **{**values, "closes": time(12)})
        assert schedule.create_schedule(s, clinic, wider, now=clock()) == 1
        assert s.scalar(select(func.count()).where(Slot.service == "flu")) == 3


def test_schedule_steps_in_real_time_across_daylight_saving(app, world, clock):
    with app.app_context():
        clinic = db.session.get(Clinic, world["mine"])
        # 2026-03-08: clocks in Boston jump from 02:00 to 03:00. 00:00 to 04:00 is three hours.
        plan = schedule.plan_schedule(
            clinic,
            first=date(2026, 3, 8),
            last=date(2026, 3, 8),
            weekdays={6},
            opens=time(0),
            closes=time(4),
            slot_minutes=60,
            capacity=1,
            service="covid19",
            now=clock(),
        )
    starts = [start for start, _end in plan.windows]
    assert starts == [datetime(2026, 3, 8, h, tzinfo=UTC) for h in (5, 6, 7)]


def test_capacity_cannot_drop_below_booked(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    url = f"/clinic/{world['mine']}/slots/{world['slot']}/capacity"
    # The 08:00 slot has one booking and one live hold: two places taken.
    low = manager.post(url, data={"capacity": "1", "csrf_token": token(manager)})
    assert low.status_code == 409
    assert "cannot go below the 2 places already held or booked" in low.text
    with app.app_context():
        assert db.session.get(Slot, world["slot"]).capacity == 3
    ok = manager.post(url, data={"capacity": "2", "csrf_token": token(manager)})
    assert ok.status_code == 303 and "done=capacity" in ok.headers["Location"]
    raised = manager.post(url, data={"capacity": "40", "csrf_token": token(manager)})
    assert raised.status_code == 303
    with app.app_context():
        assert db.session.get(Slot, world["slot"]).capacity == 40
    assert [a for a in audit_actions(app) if a[0] == "clinic.capacity"] == [
        ("clinic.capacity", str(world["slot"]), world["mine"])
    ] * 2


def test_capacity_edit_is_one_conditional_update(app, world, clock):
    # The service writes with a condition the database checks, not with what it read earlier:
    # a place taken after the page was loaded still stops the capacity going below it.
    with app.app_context():
        s = db.session
        slot = s.get(Slot, world["later_slot"])
        assert (slot.capacity, slot.held + slot.booked) == (2, 1)
        holds.place_hold(s, slot.id, now=clock(), hold_minutes=10)
        with pytest.raises(Conflict):
            schedule.set_capacity(s, world["mine"], slot.id, 1)
        assert schedule.set_capacity(s, world["mine"], slot.id, 2) == 2
        with pytest.raises(NotFound):
            schedule.set_capacity(s, world["mine"], world["other_slot"], 9)
        assert s.get(Slot, world["other_slot"]).capacity == 3


def test_closing_a_day_cancels_and_notifies_everyone_booked_in_it(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    response = manager.post(
        f"/clinic/{world['mine']}/close",
        data={
            "date": world["day"].isoformat(),
            "reason": "Power cut",
            "csrf_token": token(manager),
        },
    )
    assert response.status_code == 303 and "done=closed" in response.headers["Location"]
    mine = world["booked"][:2]
    with app.app_context():
        s = db.session
        assert set(s.scalars(select(Reservation.status).where(Reservation.id.in_(mine)))) == {
            "cancelled"
        }
        notices = s.execute(
            select(OutboxMessage.reservation_id, OutboxMessage.channel, OutboxMessage.payload)
            .where(OutboxMessage.kind == "clinic_cancellation")
            .order_by(OutboxMessage.id)
        ).all()
        # Each resident is told on every channel they gave (email and text), with the reason.
        assert sorted((r, c) for r, c, _p in notices) == sorted(
            (r, c) for r in mine for c in ("email", "sms")
        )
        assert {p["reason"] for _r, _c, p in notices} == {"Power cut"}
        assert s.get(Reservation, world["hold"]).status == "cancelled"  # the hold is released
        for slot_id in (world["slot"], world["later_slot"]):
            slot = s.get(Slot, slot_id)
            assert (slot.is_open, slot.held, slot.booked) == (False, 0, 0)
        # The next day and the other clinic are untouched.
        assert s.get(Slot, world["next_day"]).is_open is True
        assert s.get(Reservation, world["booked"][2]).status == "confirmed"
        assert s.get(Slot, world["other_slot"]).is_open is True
    assert ("clinic.close", str(world["mine"]), world["mine"]) in audit_actions(app)


def test_closing_one_slot_leaves_the_rest_of_the_day(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    response = manager.post(
        f"/clinic/{world['mine']}/close",
        data={
            "slot_id": str(world["later_slot"]),
            "date": str(world["day"]),
            "csrf_token": token(manager),
        },
    )
    assert response.status_code == 303
    with app.app_context():
        s = db.session
        assert s.get(Slot, world["later_slot"]).is_open is False
        assert s.get(Reservation, world["booked"][1]).status == "cancelled"
        assert s.get(Slot, world["slot"]).is_open is True
        assert s.get(Reservation, world["booked"][0]).status == "confirmed"
        kinds = s.execute(
            select(OutboxMessage.reservation_id, OutboxMessage.kind).where(
                OutboxMessage.kind.in_(("clinic_cancellation", "cancellation"))
            )
        ).all()
    assert {tuple(k) for k in kinds} == {(world["booked"][1], "clinic_cancellation")}


def test_closing_today_spares_what_is_over_and_refuses_past_days(app, world, clock):
    # 08:30 tomorrow: the 08:00 slot (15 minutes) is over, the 09:00 one is not.
    clock.advance(timedelta(days=1, minutes=30))
    manager = client_for(app, clock, "clinic_manager")
    url = f"/clinic/{world['mine']}/close"
    done = manager.post(url, data={"date": str(world["day"]), "csrf_token": token(manager)})
    assert done.status_code == 303
    with app.app_context():
        s = db.session
        assert s.get(Reservation, world["booked"][0]).status == "confirmed"  # 08:00, over
        assert s.get(Slot, world["slot"]).is_open is True
        assert s.get(Reservation, world["booked"][1]).status == "cancelled"  # 09:00
    past = manager.post(
        url, data={"date": str(world["day"] - timedelta(days=1)), "csrf_token": token(manager)}
    )
    assert past.status_code == 422 and "Choose today or a later day." in past.text
    over = manager.post(url, data={"slot_id": str(world["slot"]), "csrf_token": token(manager)})
    assert over.status_code == 422 and "That time is already over." in over.text


def test_roster_search_check_in_and_no_show(app, world, clock):
    staff_client = client_for(app, clock, "clinic_staff")
    roster_url = f"/clinic/{world['mine']}/roster?date={world['day']}"
    body = staff_client.get(roster_url).text
    assert body.count('class="code-inline"') == 2 and "Other" not in body
    assert staff_client.get(roster_url + "&q=hyperlink").text.count('class="code-inline"') == 1
    assert staff_client.get(roster_url + "&q=%25").text.count('class="code-inline"') == 0
    with app.app_context():
        code = db.session.get(Reservation, world["booked"][0]).confirmation_code
    found = staff_client.get(roster_url + f"&q={code.lower()}").text
    assert found.count('class="code-inline"') == 1 and f"{code[:4]}-{code[4:]}" in found
    # Tomorrow's roster offers no check-in or no-show yet: it says when check-in opens.
    assert 'value="checked_in"' not in body and 'value="no_show"' not in body
    assert "Check-in opens on the day" in body

    first, second = world["booked"][:2]
    base = f"/clinic/{world['mine']}/reservations"
    early = staff_client.post(
        f"{base}/{first}/attendance",
        data={"status": "checked_in", "csrf_token": token(staff_client)},
    )
    assert early.status_code == 409 and "Check-in opens on the day" in early.text

    clock.advance(timedelta(days=1))  # 08:00 tomorrow: the first slot begins
    staff_client = client_for(app, clock, "clinic_staff")
    csrf = token(staff_client)
    checked = staff_client.post(
        f"{base}/{first}/attendance", data={"status": "checked_in", "csrf_token": csrf}
    )
    assert checked.status_code == 303
    not_yet = staff_client.post(
        f"{base}/{second}/attendance", data={"status": "no_show", "csrf_token": csrf}
    )
    assert not_yet.status_code == 409 and "only once their time has begun" in not_yet.text
    clock.advance(timedelta(hours=1))  # 09:00: the second slot begins
    staff_client = client_for(app, clock, "clinic_staff")  # the idle session has ended
    csrf = token(staff_client)
    missed = staff_client.post(
        f"{base}/{second}/attendance", data={"status": "no_show", "csrf_token": csrf}
    )
    assert missed.status_code == 303
    with app.app_context():
        s = db.session
        assert s.get(Reservation, first).status == "checked_in"
        assert s.get(Reservation, second).status == "no_show"
        # Attending or not, the place stays counted as booked.
        assert (s.get(Slot, world["slot"]).booked, s.get(Slot, world["later_slot"]).booked) == (
            1,
            1,
        )
    # A mistake is corrected by marking the other; a cancelled booking cannot be marked.
    fixed = staff_client.post(
        f"{base}/{second}/attendance", data={"status": "checked_in", "csrf_token": csrf}
    )
    assert fixed.status_code == 303
    with app.app_context():
        assert db.session.get(Reservation, second).status == "checked_in"
    # A check-in is undone (booked again), and the roster offers exactly what is allowed.
    page = staff_client.get(f"/clinic/{world['mine']}/roster").text
    assert page.count("Undo check-in") == 2 and 'value="no_show"' not in page
    undone = staff_client.post(
        f"{base}/{second}/attendance", data={"status": "confirmed", "csrf_token": csrf}
    )
    assert undone.status_code == 303
    with app.app_context():
        assert db.session.get(Reservation, second).status == "confirmed"
    page = staff_client.get(undone.headers["Location"]).text
    assert "Undone: the resident is booked again." in page and page.count("Undo check-in") == 1
    assert "clinic.attendance_undone" in [a[0] for a in audit_actions(app)]
    refused = staff_client.post(
        f"{base}/{world['hold']}/attendance", data={"status": "checked_in", "csrf_token": csrf}
    )
    assert refused.status_code == 409 and "Only a booked appointment" in refused.text


def test_csv_export_is_complete_and_safe(app, world, clock):
    staff_client = client_for(app, clock, "clinic_staff")
    day = world["day"].isoformat()
    response = staff_client.get(f"/clinic/{world['mine']}/export.csv?from={day}&to={day}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="roster-{world["mine"]}-{day}-{day}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["time"] for r in rows] == ["08:00", "09:00"]
    assert [r["last_name"] for r in rows] == ["Resident", '\'=HYPERLINK("http://x.example")']
    # Written as on the page; none starts with "+", which would start a formula.
    assert {r["phone"] for r in rows} == {"(617) 555-0123"}
    assert {r["email"] for r in rows} == {"r0@example.org", "r1@example.org"}
    assert {r["status"] for r in rows} == {"Booked"}
    with app.app_context():
        codes = set(
            db.session.scalars(
                select(Reservation.confirmation_code).where(Reservation.id.in_(world["booked"][:2]))
            )
        )
    assert {r["code"] for r in rows} == {f"{c[:4]}-{c[4:]}" for c in codes}
    # A range: the next day has no bookings; the other clinic's never appear.
    ranged = staff_client.get(
        f"/clinic/{world['mine']}/export.csv?from={day}&to={world['day'] + timedelta(days=30)}"
    )
    assert len(list(csv.DictReader(io.StringIO(ranged.text)))) == 2
    assert [a[0] for a in audit_actions(app)].count("clinic.export_csv") == 2


def test_the_schedule_form_takes_a_12_hour_clock_and_the_usual_capacity(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    url = f"/clinic/{world['mine']}/schedule"
    page = manager.get(url).get_data(as_text=True)
    # Most of the clinic's slots take 2 people: the form starts from that, not from a guess.
    assert 'id="capacity" name="capacity" type="text" value="2"' in page
    assert 'value="9:00 AM"' in page and 'value="5:00 PM"' in page
    first = date(2026, 3, 9)  # a Monday, inside the horizon
    form = {
        **schedule_form(first, opens="9am", closes="12:30 p.m.", weekdays=["0"]),
        "csrf_token": token(manager),
    }
    preview = manager.post(url, data=form).get_data(as_text=True)
    assert "7 slots planned" in preview and 'id="beyond-horizon"' not in preview
