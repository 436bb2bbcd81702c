"""The clinic details the feed needs: the VTrckS PIN (form, service and database), the ZIP
code's state and county, the demo's clinics, and the feed's settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from booking.config import ConfigError, load_config
from booking.db import db
from booking.demo.sites import SITES
from booking.models import AuditEntry, Clinic
from booking.services.geo import county_of
from tests.staff.support import admin_client
from tests.support import csrf_from, make_clinic, refuse

FORM = {
    "name": "Worcester Senior Center",
    "address_line": "128 Providence Street",
    "city": "Worcester",
    "state": "MA",
    "postal_code": "01604",
    "latitude": "42.2540",
    "longitude": "-71.7930",
    "phone": "508-799-1232",
    "timezone": "America/New_York",
    "services": ["covid19"],
}


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def post(admin, path, **changes):
    csrf = csrf_from(admin.get(path).get_data(as_text=True))
    return admin.post(path, data={**FORM, **changes, "csrf_token": csrf})


def pin_of(app, name):
    with app.app_context():
        return db.session.scalar(select(Clinic.vtrcks_pin).where(Clinic.name == name))


def test_an_admin_sets_and_clears_a_clinics_vtrcks_pin(app, admin):
    assert post(admin, "/admin/clinics/new", vtrcks_pin=" ma 123456 ").status_code == 303
    assert pin_of(app, FORM["name"]) == "MA123456"  # as the CDC writes it
    with app.app_context():
        clinic_id = db.session.scalar(select(Clinic.id).where(Clinic.name == FORM["name"]))
    edit = f"/admin/clinics/{clinic_id}/edit"
    page = admin.get(edit).get_data(as_text=True)
    assert 'value="MA123456"' in page
    assert "County, published in the open data: Worcester" in page
    assert post(admin, edit, vtrcks_pin="").status_code == 303
    assert pin_of(app, FORM["name"]) is None
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.record_type == "clinic")
        ).all()
    assert actions == ["clinic.create", "clinic.save"]


@pytest.mark.parametrize("pin", ["AB", "X" * 21, "MA-12/34", "-MA1234", "MA1234\x00", "ÉCOLE1"])
def test_a_malformed_pin_gets_the_form_again_and_nothing_is_saved(app, admin, pin):
    response = post(admin, "/admin/clinics/new", vtrcks_pin=pin)
    if "\x00" in pin:  # a control character is refused before any view (booking/web/input_guard)
        assert response.status_code == 400
    else:
        assert response.status_code == 422
        assert "Enter the VTrckS PIN as the CDC issued it" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Clinic).where(Clinic.name == FORM["name"])) is None


def test_a_pin_another_clinic_has_is_refused(app, admin, clock):
    with app.app_context():
        make_clinic(db.session, clock(), vtrcks_pin="MA777777")
        own = make_clinic(db.session, clock(), vtrcks_pin="MA888888")
        db.session.commit()
        own_id = own.id
    taken = post(admin, "/admin/clinics/new", vtrcks_pin="ma777777")
    assert taken.status_code == 422
    assert "Another clinic has this VTrckS PIN." in taken.get_data(as_text=True)
    edit = f"/admin/clinics/{own_id}/edit"
    assert post(admin, edit, vtrcks_pin="MA777777").status_code == 422
    # Saving a clinic with the PIN it already has is no conflict.
    assert post(admin, edit, vtrcks_pin="MA888888").status_code == 303


def test_a_zip_code_of_another_state_is_refused(app, admin):
    wrong = post(admin, "/admin/clinics/new", postal_code="06103")  # Hartford, CT
    assert wrong.status_code == 422
    assert "This ZIP code is in CT, not MA." in wrong.get_data(as_text=True)
    assert post(admin, "/admin/clinics/new", postal_code="06103", state="CT").status_code == 303


def test_the_database_refuses_a_duplicate_or_malformed_pin(session, now):
    make_clinic(session, now, vtrcks_pin="MA555555")
    other = make_clinic(session, now)
    update = "UPDATE clinic SET vtrcks_pin = :pin WHERE id = :id"
    refuse(session, update, "vtrcks_pin", "UNIQUE", pin="MA555555", id=other.id)
    refuse(session, update, "ck_clinic_vtrcks_pin_form", pin="ma555556", id=other.id)
    refuse(session, update, "ck_clinic_vtrcks_pin_form", pin="MA", id=other.id)
    # Many clinics have no PIN; a well-formed one of its own is taken.
    session.execute(text(update), {"pin": None, "id": other.id})
    session.execute(text(update), {"pin": "MA-555556", "id": other.id})


def test_every_demo_clinic_has_a_phone_a_pin_of_its_own_and_a_county():
    assert all(site.phone for site in SITES)
    assert len({site.vtrcks_pin for site in SITES}) == len(SITES)
    assert all(site.vtrcks_pin.startswith("DEMO") for site in SITES)  # plainly not real ones
    assert all(county_of(site.postal_code) for site in SITES)


@pytest.mark.parametrize("phone", ["2-1-1", "211", "555-0100", "1-877-211-627", "call us"])
def test_the_booking_phone_must_be_a_full_number(tmp_path, phone):
    environ = {"FAIRSLOT_ENV": "test", "FAIRSLOT_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="FAIRSLOT_BOOKING_PHONE"):
        load_config(environ={**environ, "FAIRSLOT_BOOKING_PHONE": phone})
    config = load_config(environ={**environ, "FAIRSLOT_BOOKING_PHONE": "(617) 555-0199"})
    assert config["BOOKING_PHONE"] == "(617) 555-0199"
    assert load_config(environ=environ)["BOOKING_PHONE"] == "+1-877-211-6277"


@pytest.mark.parametrize("system", ["clinics", "http://a b", "://x", "urn:" + "x" * 200])
def test_the_identifier_system_must_be_an_absolute_uri(tmp_path, system):
    environ = {"FAIRSLOT_ENV": "test", "FAIRSLOT_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match="FAIRSLOT_OPENDATA_IDENTIFIER_SYSTEM"):
        load_config(environ={**environ, "FAIRSLOT_OPENDATA_IDENTIFIER_SYSTEM": system})
    good = "https://www.mass.gov/fairslot/clinics"
    config = load_config(environ={**environ, "FAIRSLOT_OPENDATA_IDENTIFIER_SYSTEM": good})
    assert config["OPENDATA_IDENTIFIER_SYSTEM"] == good
