"""Vaccine products: the catalogue in every database, the database's own refusals, the admin
page, the schedule form's product choice, and the plain words for a product and dose."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select, text

from booking.db import db
from booking.i18n import translate
from booking.models import AuditEntry, Slot, VaccineProduct
from booking.services import products, schedule
from booking.services.errors import InvalidInput
from tests.staff.clinic_support import build_world, client_for
from tests.staff.support import admin_client, sign_in
from tests.support import csrf_from, make_clinic, make_slot, refuse

GOOD = {
    "service": "covid19",
    "name": "Sputnik Light",
    "manufacturer": "Gamaleya",
    "cvx_code": "504",
    "min_age_years": "18",
    "max_age_years": "",
    "doses": "1",
    "interval_days": "",
    "interval_max_days": "",
}


def by_key(session, key: str) -> VaccineProduct:
    return session.scalars(select(VaccineProduct).where(VaccineProduct.key == key)).one()


# --- The catalogue and the database's refusals ----------------------------------------------


def test_the_catalogue_is_in_the_database_after_migrating(session):
    rows = {p.key: p for p in session.scalars(select(VaccineProduct))}
    assert set(rows) == {entry.key for entry in products.CATALOGUE}
    for entry in products.CATALOGUE:
        row = rows[entry.key]
        fields = ("service", "name", "manufacturer", "cvx_code", "min_age_years", "doses")
        assert [getattr(row, f) for f in fields] == [getattr(entry, f) for f in fields]
        assert (row.interval_days, row.interval_max_days, row.active) == (
            entry.interval_days,
            entry.interval_max_days,
            True,
        )
    assert rows["moderna-covid19"].cvx_code == "207"
    assert (rows["moderna-covid19"].interval_days, rows["janssen-covid19"].doses) == (28, 1)
    for service, key in products.DEFAULT_PRODUCT_KEYS.items():
        assert rows[key].service == service
        assert products.default_product(session, service).key == key


def test_a_retired_default_gives_way_to_another_product(session):
    products.set_active(session, by_key(session, "pfizer-covid19").id, False)
    assert products.default_product(session, "covid19").key == "moderna-covid19"


def test_the_database_refuses_a_slot_of_another_services_product(session, now):
    slot = make_slot(session, make_clinic(session, now), now + timedelta(days=1))
    fk = ("fk_slot_product_id_vaccine_product", "FOREIGN KEY constraint failed")
    refuse(session, "UPDATE slot SET service = 'flu' WHERE id = :id", *fk, id=slot.id)
    flu = by_key(session, "fluzone-flu").id
    refuse(session, "UPDATE slot SET product_id = :p WHERE id = :id", *fk, p=flu, id=slot.id)
    # Control: both together are a consistent flu slot.
    session.execute(
        text("UPDATE slot SET service = 'flu', product_id = :p WHERE id = :id"),
        {"p": flu, "id": slot.id},
    )


INSERT_PRODUCT = (
    "INSERT INTO vaccine_product (key, service, name, manufacturer, cvx_code, min_age_years, "
    "doses, interval_days, interval_max_days, active, created_at) VALUES (:key, :service, 'X', "
    "'Y', :cvx, 18, :doses, :interval, :latest, true, '2026-03-01 12:00:00')"
)


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"doses": 2, "interval": None, "latest": None}, "ck_vaccine_product_interval_fits_doses"),
        ({"doses": 2, "interval": 28, "latest": None}, "ck_vaccine_product_interval_fits_doses"),
        ({"doses": 2, "interval": 28, "latest": 21}, "ck_vaccine_product_interval_fits_doses"),
        ({"doses": 1, "interval": 28, "latest": 42}, "ck_vaccine_product_interval_fits_doses"),
        ({"doses": 3}, "ck_vaccine_product_doses_range"),
        ({"cvx": "2a"}, "ck_vaccine_product_cvx_digits"),
        ({"cvx": ""}, "ck_vaccine_product_cvx_digits"),
        ({"cvx": "207"}, "uq_vaccine_product_cvx_code"),
        ({"service": "measles"}, "ck_vaccine_product_service_known"),
    ],
)
def test_the_database_refuses_impossible_products(session, change, constraint):
    params = {"key": "x", "service": "covid19", "cvx": "999", "doses": 1}
    params |= {"interval": None, "latest": None, **change}
    # SQLite names a failed UNIQUE by its columns.
    refuse(session, INSERT_PRODUCT, constraint, "vaccine_product.cvx_code", **params)
    # Control: a two-dose course with both intervals is fine.
    good = {**params, "cvx": "998", "doses": 2, "interval": 21, "latest": 42, "service": "flu"}
    session.execute(text(INSERT_PRODUCT), good)


# --- Plain words ------------------------------------------------------------------------------


def test_describe_names_the_vaccine_the_product_and_the_dose(app, session):
    moderna, janssen = by_key(session, "moderna-covid19"), by_key(session, "janssen-covid19")
    assert products.describe(moderna) == "COVID-19 vaccine (Moderna)"
    assert products.describe(moderna, dose=1) == "COVID-19 vaccine (Moderna), dose 1 of 2"
    assert products.describe(moderna, dose=2) == "COVID-19 vaccine (Moderna), dose 2 of 2"
    assert products.describe(janssen, dose=1) == "COVID-19 vaccine (Janssen)"
    assert products.describe(by_key(session, "arexvy-rsv")) == "RSV vaccine (Arexvy)"
    with app.test_request_context(), force_locale("es"):
        spanish = str(translate(products.describe(moderna, dose=1)))
    # The vaccine's own words are translated inside the sentence too.
    assert spanish == "Vacuna contra el COVID-19 (Moderna), dosis 1 de 2"


# --- Validation in the service ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "A\x00B"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"manufacturer": None}, "manufacturer"),
        ({"service": "measles"}, "service"),
        ({"service": ["covid19"]}, "service"),
        ({"cvx_code": "2071"}, "cvx_code"),
        ({"cvx_code": "\uff12\uff10\uff17"}, "cvx_code"),  # full-width digits
        ({"cvx_code": "\x00"}, "cvx_code"),
        ({"cvx_code": 207}, "cvx_code"),
        ({"cvx_code": "207"}, "cvx_code"),  # Moderna's
        ({"min_age_years": "-1"}, "min_age_years"),
        ({"min_age_years": "eighteen"}, "min_age_years"),
        ({"min_age_years": "65", "max_age_years": "64"}, "max_age_years"),
        ({"doses": "3"}, "doses"),
        ({"doses": ["1"]}, "doses"),
        ({"doses": "2"}, "interval_days"),
        ({"doses": "2", "interval_days": "21"}, "interval_max_days"),
        ({"doses": "2", "interval_days": "28", "interval_max_days": "21"}, "interval_max_days"),
        ({"doses": "1", "interval_days": "28"}, "interval_days"),
        ({"doses": "2", "interval_days": "0", "interval_max_days": "5"}, "interval_days"),
    ],
)
def test_bad_products_are_refused_field_by_field(session, now, change, field):
    with pytest.raises(InvalidInput) as refused:
        products.create_product(session, {**GOOD, **change}, now=now)
    assert field in refused.value.errors


def test_products_are_created_and_edited_with_their_course(session, now):
    made = products.create_product(session, GOOD, now=now)
    assert (made.key, made.service, made.doses, made.interval_days) == (
        "sputnik-light-covid19",
        "covid19",
        1,
        None,
    )
    two = {**GOOD, "doses": "2", "interval_days": "21", "interval_max_days": "90"}
    edited = products.update_product(session, made.id, {**two, "service": "flu"})
    assert (edited.service, edited.doses, edited.interval_max_days) == ("covid19", 2, 90)
    # Keeping its own CVX code is not a clash with itself.
    assert products.update_product(session, made.id, two).cvx_code == "504"


# --- The admin page ---------------------------------------------------------------------------


@pytest.fixture
def admin(app, clock, accounts):
    return admin_client(app, clock)


def token(client, path):
    return csrf_from(client.get(path).get_data(as_text=True))


def vaccine_actions(app):
    with app.app_context():
        return db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.record_type == "vaccine_product")
            .order_by(AuditEntry.id)
        ).all()


def test_admin_lists_adds_edits_and_retires_a_product(app, admin):
    page = admin.get("/admin/vaccines")
    assert page.status_code == 200
    for words in ("COVID-19 vaccine (Moderna)", "207", "RSV vaccine (mRESVIA)", "326", "65+"):
        assert words in page.text
    assert "dose 2 on day 28 to 42" in page.text
    assert "/admin/vaccines" in admin.get("/staff/").text  # linked from the console
    csrf = token(admin, "/admin/vaccines/new")
    assert admin.post("/admin/vaccines/new", data={**GOOD, "csrf_token": csrf}).status_code == 303
    with app.app_context():
        made = by_key(db.session, "sputnik-light-covid19")
        product_id = made.id
    assert "COVID-19 vaccine (Sputnik Light)" in admin.get("/admin/vaccines").text
    edit = f"/admin/vaccines/{product_id}/edit"
    assert 'value="Sputnik Light"' in admin.get(edit).text
    spanish = admin.get(edit, headers={"Accept-Language": "es"}).text
    assert "Vacuna: Vacuna contra el COVID-19." in spanish
    changed = {**GOOD, "name": "Sputnik V", "doses": "2", "interval_days": "21"}
    changed["interval_max_days"] = "90"
    assert admin.post(edit, data={**changed, "csrf_token": csrf}).status_code == 303
    data = {**changed, "action": "deactivate", "csrf_token": csrf}
    assert admin.post(edit, data=data).status_code == 303
    with app.app_context():
        product = db.session.get(VaccineProduct, product_id)
        assert (product.name, product.doses, product.active) == ("Sputnik V", 2, False)
    assert "Retired" in admin.get("/admin/vaccines").text
    data["action"] = "activate"
    admin.post(edit, data=data)
    assert vaccine_actions(app) == [
        "vaccine.create",
        "vaccine.save",
        "vaccine.deactivate",
        "vaccine.activate",
    ]
    assert admin.get("/admin/vaccines/99999/edit").status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cvx_code": "abc"}, "one to three digits"),
        ({"cvx_code": "207"}, "Another product already has this CVX code."),
        ({"doses": "2"}, "Enter the days from dose 1 to dose 2."),
        ({"doses": "three"}, "Choose one or two doses."),
        ({"service": "measles"}, "Choose a vaccine."),
        ({"min_age_years": "1e3"}, "Enter a whole number from 0 to 130."),
    ],
)
def test_bad_input_gets_the_form_again_with_errors(app, admin, change, message):
    csrf = token(admin, "/admin/vaccines/new")
    response = admin.post("/admin/vaccines/new", data={**GOOD, **change, "csrf_token": csrf})
    assert response.status_code == 422
    assert message in response.text
    assert vaccine_actions(app) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(VaccineProduct)) == len(
            products.CATALOGUE
        )


def test_bad_edits_and_lists_of_values_never_fail(app, admin):
    with app.app_context():
        moderna = by_key(db.session, "moderna-covid19").id
    edit = f"/admin/vaccines/{moderna}/edit"
    csrf = token(admin, edit)
    bad = admin.post(edit, data={**GOOD, "cvx_code": "208", "csrf_token": csrf})
    assert bad.status_code == 422 and "Another product already has this CVX code." in bad.text
    listed = admin.post(
        edit, data={**GOOD, "doses": ["1", "2"], "action": "bogus", "csrf_token": csrf}
    )
    assert listed.status_code == 303  # the first of repeated values counts; a bad action saves
    assert admin.post(edit, data={**GOOD, "cvx_code": "1"}).status_code in (400, 403)  # no CSRF
    with app.app_context():
        assert by_key(db.session, "moderna-covid19").cvx_code == GOOD["cvx_code"]


def test_only_state_admins_manage_products(app, clock, accounts):
    anonymous = app.test_client()
    assert anonymous.get("/admin/vaccines").status_code in (302, 401)
    agent = app.test_client()
    sign_in(agent, "agent@example.org")
    assert agent.get("/admin/vaccines").status_code == 403
    csrf = token(agent, "/staff/")
    refused = agent.post("/admin/vaccines/new", data={**GOOD, "csrf_token": csrf})
    assert refused.status_code == 403
    assert vaccine_actions(app) == []


# --- The schedule form ------------------------------------------------------------------------


def schedule_form(**overrides):
    form = {
        "first": "2026-03-16",
        "last": "2026-03-16",
        "weekdays": ["0"],
        "opens": "09:00",
        "closes": "10:00",
        "slot_minutes": "30",
        "capacity": "4",
        "action": "create",
    }
    return {**form, **overrides}


def test_the_schedule_form_creates_slots_for_the_chosen_product(app, clock):
    world = build_world(app, clock)
    manager = client_for(app, clock, "clinic_manager")
    url = f"/clinic/{world['mine']}/schedule"
    page = manager.get(url).text
    assert "COVID-19 vaccine (Moderna) · CVX 207" in page
    assert "RSV vaccine" not in page  # the clinic does not offer RSV
    with app.app_context():
        moderna = by_key(db.session, "moderna-covid19").id
        pfizer = by_key(db.session, "pfizer-covid19").id
        rsv = by_key(db.session, "arexvy-rsv").id
    csrf = csrf_from(page)
    for product in (moderna, pfizer):
        made = manager.post(url, data=schedule_form(product_id=str(product), csrf_token=csrf))
        assert "Created 2 new slots" in made.text
    with app.app_context():
        monday = db.session.scalars(
            select(Slot).where(Slot.clinic_id == world["mine"], Slot.capacity == 4)
        ).all()
        assert sorted((s.product_id, s.service) for s in monday) == sorted(
            [(moderna, "covid19")] * 2 + [(pfizer, "covid19")] * 2
        )
        products.set_active(db.session, moderna, False)
        db.session.commit()
    for bad in (str(rsv), str(moderna), "abc", "99999"):
        refused = manager.post(url, data=schedule_form(product_id=bad, csrf_token=csrf))
        assert refused.status_code == 422, bad
        assert "Choose a vaccine this clinic offers." in refused.text
    assert "(Moderna)" not in manager.get(url).text  # retired: no longer offered


def test_a_service_only_plan_uses_the_default_product(session, now):
    clinic = make_clinic(session, now)
    plan = schedule.plan_schedule(
        clinic,
        first=date(2026, 3, 16),
        last=date(2026, 3, 16),
        weekdays={0},
        opens=time(9),
        closes=time(10),
        slot_minutes=60,
        capacity=1,
        service="flu",
        now=now,
    )
    assert schedule.create_schedule(session, clinic, plan, now=now) == 1
    slot = session.scalars(select(Slot).where(Slot.clinic_id == clinic.id)).one()
    assert slot.product_id == by_key(session, "fluzone-flu").id
