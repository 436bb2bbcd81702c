"""The clinic console's boundaries: per-clinic isolation, roles, bad input, the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from booking.db import db
from booking.models import AuditEntry
from tests.staff.clinic_support import audit_actions, build_world, client_for, snapshot, token


@pytest.fixture
def world(app, clock):
    return build_world(app, clock)


def schedule_form(world, **overrides):
    form = {
        "first": (world["day"] + timedelta(days=7)).isoformat(),
        "last": (world["day"] + timedelta(days=8)).isoformat(),
        "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
        "opens": "09:00",
        "closes": "10:00",
        "slot_minutes": "30",
        "capacity": "4",
        "service": "covid19",
        "action": "create",
    }
    form.update(overrides)
    return form


def requests_at(world, clinic, slot, reservation):
    """Every console request, aimed at ``clinic`` with the given slot and reservation ids."""
    day = str(world["day"])
    base = f"/clinic/{clinic}"
    return [
        ("GET", f"{base}/roster?date={day}", None),
        ("GET", f"{base}/export.csv?from={day}&to={day}", None),
        ("GET", f"{base}/schedule", None),
        ("POST", f"{base}/schedule", schedule_form(world)),
        ("POST", f"{base}/slots/{slot}/capacity", {"capacity": "50"}),
        ("POST", f"{base}/close", {"slot_id": str(slot)}),
        ("POST", f"{base}/close", {"date": day}),
        ("POST", f"{base}/reservations/{reservation}/attendance", {"status": "checked_in"}),
    ]


def manager_only(url):
    return any(part in url for part in ("/schedule", "/capacity", "/close"))


def send(client, method, url, data):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={**data, "csrf_token": token(client)})


def test_staff_of_one_clinic_get_404_for_another_and_nothing_changes(app, world, clock):
    before = snapshot(app)
    for role in ("clinic_manager", "clinic_staff"):
        client = client_for(app, clock, role)
        # Another clinic's pages, and another clinic's records under one's own clinic.
        aimed = requests_at(world, world["other"], world["other_slot"], world["booked"][2])
        mixed = [
            r
            for r in requests_at(world, world["mine"], world["other_slot"], world["booked"][2])
            if "/slots/" in r[1] or "/reservations/" in r[1] or "slot_id" in (r[2] or {})
        ]
        for method, url, data in aimed + mixed:
            response = send(client, method, url, data)
            # The role is checked before the clinic: staff are refused managers' routes anyway.
            expected = 403 if role == "clinic_staff" and manager_only(url) else 404
            assert response.status_code == expected, (role, method, url)
            assert "Resident" not in response.text
    assert snapshot(app) == before
    # No view of the other clinic's residents was recorded either: none happened.
    assert all(clinic == world["mine"] or clinic is None for _a, _r, clinic in audit_actions(app))
    index = client_for(app, clock, "clinic_staff").get("/clinic/").text
    assert "Mine" in index and "Other" not in index


def test_clinic_staff_cannot_manage_the_schedule(app, world, clock):
    client = client_for(app, clock, "clinic_staff")
    before = snapshot(app)
    mine = requests_at(world, world["mine"], world["slot"], world["booked"][0])
    expected = {"roster": 200, "export.csv": 200, "attendance": 409}  # check-in: too early
    for method, url, data in mine:
        response = send(client, method, url, data)
        name = url.split("?")[0].rsplit("/", 1)[1]
        assert response.status_code == (403 if manager_only(url) else expected[name]), url
    assert snapshot(app)[:3] == before[:3]
    assert [
        a for a in audit_actions(app) if a[0] not in ("clinic.view_roster", "clinic.export_csv")
    ] == []
    roster = client.get(f"/clinic/{world['mine']}/roster?date={world['day']}").text
    assert "Create a schedule" not in roster and "Close the day" not in roster


def test_state_admin_can_use_every_clinic_and_home_lists_clinics(app, world, clock):
    admin = client_for(app, clock, "state_admin")
    for clinic in (world["mine"], world["other"]):
        assert admin.get(f"/clinic/{clinic}/roster?date={world['day']}").status_code == 200
        assert admin.get(f"/clinic/{clinic}/schedule").status_code == 200
    changed = admin.post(
        f"/clinic/{world['other']}/slots/{world['other_slot']}/capacity",
        data={"capacity": "7", "csrf_token": token(admin)},
    )
    assert changed.status_code == 303
    assert "/clinic/" in admin.get("/staff/").text
    home = client_for(app, clock, "clinic_staff").get("/staff/").text
    assert f"/clinic/{world['mine']}/roster" in home and f"/clinic/{world['other']}/" not in home


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"first": "2021-02-30"}, "That date does not exist."),
        ({"first": ""}, "Enter a date."),
        ({"last": "soon"}, "Enter the date like"),
        ({"opens": "9"}, "Enter a time like 9:00 AM or 17:00."),
        ({"opens": "13pm"}, "Enter a time like 9:00 AM or 17:00."),
        ({"closes": "25:00"}, "Enter a time like 9:00 AM or 17:00."),
        ({"opens": "5 pm", "closes": "9am"}, "Closing time must be after opening time."),
        ({"opens": "12:00", "closes": "08:00"}, "Closing time must be after opening time."),
        ({"slot_minutes": "0"}, "Enter a whole number from 5 to 240."),
        ({"capacity": "lots"}, "Enter a whole number from 1 to 1000."),
        ({"capacity": "-1"}, "Enter a whole number from 1 to 1000."),
        ({"weekdays": []}, "Choose at least one weekday."),
        ({"weekdays": [""]}, "Choose at least one weekday."),
        ({"weekdays": ["9"]}, "Choose at least one weekday."),
        ({"service": "measles"}, "Choose a vaccine this clinic offers."),
        ({"service": "rsv"}, "Choose a vaccine this clinic offers."),  # not offered here
        ({"first": "2026-03-01"}, "The first day must be today or later."),
        ({"last": "2026-03-01"}, "The last day must not be before the first."),
        ({"last": "2026-12-31"}, "Plan at most 92 days at a time."),
    ],
)
def test_bad_schedule_input_shows_the_form_again(app, world, clock, overrides, message):
    manager = client_for(app, clock, "clinic_manager")
    before = snapshot(app)
    response = manager.post(
        f"/clinic/{world['mine']}/schedule",
        data={**schedule_form(world, **overrides), "csrf_token": token(manager)},
    )
    assert response.status_code == 422
    assert message in response.text
    assert 'name="opens"' in response.text  # the form, with what was typed
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("slots/{slot}/capacity", {"capacity": "many"}, 422, "whole number from 0 to 1000"),
        ("slots/{slot}/capacity", {"capacity": "1001"}, 422, "whole number from 0 to 1000"),
        ("slots/{slot}/capacity", {}, 422, "whole number from 0 to 1000"),
        ("close", {"date": "2026-02-30"}, 422, "That date does not exist."),
        ("close", {"date": "2040-01-01"}, 422, "within ten years"),
        ("close", {"slot_id": "x"}, 422, "whole number"),
        ("close", {"date": "{day}", "reason": "x" * 201}, 422, "at most 200 characters"),
        ("close", {"date": "{day}", "reason": "a\nb"}, 422, "one line"),
        ("reservations/{booking}/attendance", {"status": "vaccinated"}, 422, "Choose check-in"),
        ("reservations/{booking}/attendance", {}, 422, "Choose check-in"),
    ],
)
def test_bad_input_on_console_forms(app, world, clock, path, data, status, message):
    manager = client_for(app, clock, "clinic_manager")
    before = snapshot(app)
    fill = {"slot": world["slot"], "booking": world["booked"][0], "day": world["day"]}
    url = f"/clinic/{world['mine']}/" + path.format(**fill)
    form = {key: value.format(**fill) for key, value in data.items()}
    response = manager.post(url, data={**form, "csrf_token": token(manager)})
    assert response.status_code == status
    assert message in response.text
    assert "There is a problem" in response.text
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "That date does not exist."),
        ("from=2026-03-10&to=2026-03-09", "The last day must not be before the first."),
        ("from=2026-03-01&to=2026-04-15", "Export at most 31 days at a time."),
    ],
)
def test_bad_export_range(app, world, clock, query, message):
    staff_client = client_for(app, clock, "clinic_staff")
    response = staff_client.get(f"/clinic/{world['mine']}/export.csv?{query}")
    assert response.status_code == 422
    assert response.mimetype == "text/html" and message in response.text
    assert "clinic.export_csv" not in [a[0] for a in audit_actions(app)]


def test_bad_roster_date(app, world, clock):
    staff_client = client_for(app, clock, "clinic_staff")
    response = staff_client.get(f"/clinic/{world['mine']}/roster?date=tomorrowish")
    assert response.status_code == 422 and "Enter the date like" in response.text


def test_audit_rows_for_each_pii_view_and_change(app, world, clock):
    manager = client_for(app, clock, "clinic_manager")
    mine, day = world["mine"], str(world["day"])
    manager.get(f"/clinic/{mine}/roster?date={day}&q=Resident")
    manager.get(f"/clinic/{mine}/export.csv?from={day}")
    manager.post(
        f"/clinic/{mine}/slots/{world['slot']}/capacity",
        data={"capacity": "5", "csrf_token": token(manager)},
    )
    manager.post(
        f"/clinic/{mine}/schedule", data={**schedule_form(world), "csrf_token": token(manager)}
    )
    manager.post(
        f"/clinic/{mine}/close",
        data={"slot_id": str(world["later_slot"]), "csrf_token": token(manager)},
    )
    clock.advance(timedelta(days=1, minutes=1))
    manager = client_for(app, clock, "clinic_manager")
    for status in ("checked_in", "no_show"):
        manager.post(
            f"/clinic/{mine}/reservations/{world['booked'][0]}/attendance",
            data={"status": status, "date": day, "csrf_token": token(manager)},
        )
    # Each redirect lands on the roster, itself a view of residents' details (audited too).
    changes = [a for a in audit_actions(app) if a[0] != "clinic.view_roster"]
    assert changes == [
        ("clinic.export_csv", str(mine), mine),
        ("clinic.capacity", str(world["slot"]), mine),
        ("clinic.bulk_schedule", str(mine), mine),
        ("clinic.close", str(world["later_slot"]), mine),
        ("clinic.checked_in", str(world["booked"][0]), mine),
        ("clinic.no_show", str(world["booked"][0]), mine),
    ]
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.startswith("clinic."))
            .order_by(AuditEntry.id)
        ).all()
        assert {row.actor_id for row in rows} == {world["users"]["clinic_manager"]}
        assert {row.actor_role for row in rows} == {"clinic_manager"}
        assert all(row.request_id for row in rows)
        view = rows[0]
        assert (view.action, view.detail) == (
            "clinic.view_roster",
            {"day": day, "query": "Resident", "residents": 1},
        )
        by_action = {row.action: row.detail for row in rows}
        assert by_action["clinic.capacity"] == {"from": 3, "to": 5}
        assert by_action["clinic.close"]["bookings_cancelled"] == 1
        assert by_action["clinic.no_show"] == {"from": "checked_in", "to": "no_show"}
        assert by_action["clinic.export_csv"]["rows"] == 2
