"""The resident pages: sign up, the status link, change, withdraw; without JavaScript."""

from __future__ import annotations

import re

from booking.db import db
from booking.models import Preregistration
from tests.preregistration.support import signup
from tests.support import csrf_from


def _post_signup(client, **overrides):
    csrf = csrf_from(client.get("/preregister").get_data(as_text=True))
    return client.post("/preregister", data={"csrf_token": csrf, **signup(**overrides)})


def _private_link(client) -> str:
    page = client.get("/preregistration").get_data(as_text=True)
    return re.search(r"http://fairslot.test(/preregistration/[\w.\-]+)", page).group(1)


def test_sign_up_shows_group_status_honest_count_and_a_private_link(app, client):
    form = client.get("/preregister").get_data(as_text=True)
    assert "30 days after you are vaccinated or withdraw" in form
    answer = _post_signup(client)
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    for words in ("Everyone", "Waiting for an invitation", "Invitations sent to your group so far"):
        assert words in page
    assert "position" not in page.lower()
    link = _private_link(client)
    other = app.test_client()  # another browser: the link alone opens it
    assert other.get(link).status_code == 303
    assert "Robinaa" in other.get("/preregistration").get_data(as_text=True)
    assert app.test_client().get(link[:-3] + "xyz").status_code == 404


def test_errors_come_back_on_the_form_and_nothing_is_written(app, client):
    answer = _post_signup(client, zip="9", consent="", first_name="A\x00")
    page = answer.get_data(as_text=True)
    assert answer.status_code in (400, 422)
    with app.app_context():
        assert db.session.query(Preregistration).count() == 0
    if answer.status_code == 422:
        assert "Agree to be contacted" in page and 'href="#zip"' in page


def test_a_second_sign_up_for_the_same_person_is_refused_on_the_page(app, client):
    assert _post_signup(client).status_code == 303
    again = _post_signup(app.test_client(), first_name="ROBINAA", phone="617-555-0100")
    assert again.status_code == 409
    assert "already preregistered" in again.get_data(as_text=True)


def test_change_and_withdraw(app, client):
    _post_signup(client)
    csrf = csrf_from(client.get("/preregistration/change").get_data(as_text=True))
    changed = client.post(
        "/preregistration/change",
        data={"csrf_token": csrf, **signup(zip="01602", travel_miles="25", language="es")},
    )
    assert changed.status_code == 303
    bad = client.post("/preregistration/change", data={"csrf_token": csrf, **signup(zip="x")})
    assert bad.status_code == 422
    csrf = csrf_from(client.get("/preregistration/withdraw").get_data(as_text=True))
    assert client.post("/preregistration/withdraw", data={"csrf_token": csrf}).status_code == 303
    page = client.get("/preregistration").get_data(as_text=True)
    assert "Withdrawn" in page and "/preregistration/change" not in page
    with app.app_context():
        row = db.session.query(Preregistration).one()
        assert (row.zip_code, row.travel_miles, row.locale, row.status) == (
            "01602",
            25,
            "es",
            "withdrawn",
        )


def test_every_page_reads_in_spanish(client):
    page = client.get("/preregister", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Preinscr" in page


def test_the_status_page_without_a_link_sends_to_the_form(client):
    answer = client.get("/preregistration")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/preregister")


def test_the_error_summary_lists_problems_in_the_forms_order(client):
    csrf = csrf_from(client.get("/preregister").get_data(as_text=True))
    page = client.post("/preregister", data={"csrf_token": csrf}).get_data(as_text=True)
    summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    linked = re.findall(r'href="#(\w+)"', summary)
    fields = re.findall(r'<(?:input|select|textarea)[^>]* id="(\w+)"', page)
    assert "first_name" in linked and "consent" in linked
    assert linked == sorted(linked, key=fields.index)  # first name first, consent last
