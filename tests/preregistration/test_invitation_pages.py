"""The invitee's pages: the status page shows the invitation, its link books past the waiting
room for its own person only, once; a forwarded link with another birth date books nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from booking.db import db
from booking.models import Invitation, Reservation
from booking.services import invitations
from tests.preregistration.support import signup
from tests.support import csrf_from, make_clinic, make_slot


def _invite(app, client, clock):
    csrf = csrf_from(client.get("/preregister").get_data(as_text=True))
    assert client.post("/preregister", data={"csrf_token": csrf, **signup()}).status_code == 303
    now = clock()
    with app.app_context():
        clinic = make_clinic(db.session, now)
        slot = make_slot(db.session, clinic, now + timedelta(days=1), capacity=2)
        day = (now + timedelta(days=1)).date()
        invitations.release_places(db.session, clinic.id, day, 1, service="covid19", now=now)
        invitations.run_round(db.session, service="covid19", now=now)
        db.session.commit()
        return slot.id


def test_invited_book_with_their_link_past_the_waiting_room(build, clock):
    app = build()  # the waiting room is on
    client = app.test_client()
    slot_id = _invite(app, client, clock)
    page = client.get("/preregistration").get_data(as_text=True)
    assert "You are invited to book" in page
    link = re.search(r"http://fairslot.test(/invitation/[\w.\-]+)", page).group(1)
    forwarded = app.test_client()  # someone else, with the link
    assert forwarded.get(link).status_code == 303
    form = forwarded.get("/invitation").get_data(as_text=True)
    assert "Robinaa Waiting" in form and 'name="first_name"' not in form
    csrf = csrf_from(form)
    wrong = forwarded.post(
        "/invitation", data={"csrf_token": csrf, "slot_id": slot_id, "date_of_birth": "1961-02-03"}
    )
    assert wrong.status_code == 422 and "for someone else" in wrong.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Reservation.id)) is None
    client.get(link)
    csrf = csrf_from(client.get("/invitation").get_data(as_text=True))
    data = {"csrf_token": csrf, "slot_id": slot_id, "date_of_birth": "04/27/1950"}
    booked = client.post("/invitation", data=data)
    assert booked.status_code == 303 and booked.headers["Location"].endswith("/confirmation")
    with app.app_context():
        assert db.session.scalar(select(Invitation.status)) == "booked"
        code = db.session.scalar(select(Reservation.confirmation_code))
    # The confirmation page, as for any booking: the code and the link to manage it.
    confirmation = client.get("/confirmation").get_data(as_text=True)
    assert f"{code[:4]}-{code[4:]}" in confirmation
    manage = re.search(r"http://fairslot\.test(/manage/[\w.\-]+)", confirmation).group(1)
    assert client.get(manage).status_code == 303
    assert forwarded.get("/confirmation").status_code == 302  # not the other browser's
    client.get(link)  # the same link again: spent
    assert "already been used" in client.get("/invitation").get_data(as_text=True)


def test_hostile_invitation_requests(app, client, clock):
    slot_id = _invite(app, client, clock)
    page = client.get("/preregistration").get_data(as_text=True)
    link = re.search(r"http://fairslot.test(/invitation/[\w.\-]+)", page).group(1)
    assert client.get(link[:-2] + "zz").status_code == 404
    assert app.test_client().get("/invitation").status_code == 404
    client.get(link)
    csrf = csrf_from(client.get("/invitation").get_data(as_text=True))
    for slot, born in (("x", "1950-04-27"), (str(slot_id + 999), "1950-04-27"), (slot_id, "")):
        answer = client.post(
            "/invitation", data={"csrf_token": csrf, "slot_id": slot, "date_of_birth": born}
        )
        assert answer.status_code == 422
    nul = client.post(
        "/invitation", data={"csrf_token": csrf, "slot_id": slot_id, "date_of_birth": "1950\x00"}
    )
    assert nul.status_code in (400, 422)
    with app.app_context():
        assert db.session.scalar(select(Reservation.id)) is None


def test_an_invitee_declines_and_a_forwarded_link_cannot_decline_for_them(build, clock):
    app = build()
    client = app.test_client()
    _invite(app, client, clock)
    page = client.get("/preregistration").get_data(as_text=True)
    link = re.search(r"http://fairslot.test(/invitation/[\w.\-]+)", page).group(1)
    forwarded = app.test_client()
    forwarded.get(link)
    csrf = csrf_from(forwarded.get("/invitation").get_data(as_text=True))
    refused = forwarded.post(
        "/invitation/decline", data={"csrf_token": csrf, "decline_date_of_birth": "1961-02-03"}
    )
    assert refused.status_code == 422 and "for someone else" in refused.get_data(as_text=True)
    client.get(link)
    csrf = csrf_from(client.get("/invitation").get_data(as_text=True))
    declined = client.post(
        "/invitation/decline", data={"csrf_token": csrf, "decline_date_of_birth": "04/27/1950"}
    )
    assert declined.status_code == 200 and "Invitation declined" in declined.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Invitation.status)) == "declined"
    assert "Waiting for an invitation" in client.get("/preregistration").get_data(as_text=True)
    client.get(link)  # the link again: it has ended
    assert "has ended: it was declined" in client.get("/invitation").get_data(as_text=True)


def test_the_demo_outbox_shows_invitations_as_sent(database_url, clock, tmp_path):
    from booking.demo.outbox import demo_outbox
    from tests.conftest import rolled_back_app

    with rolled_back_app(database_url, clock, tmp_path, FAIRSLOT_ENV="demo") as app:
        now = clock()
        with app.app_context():
            clinic = make_clinic(db.session, now)
            make_slot(db.session, clinic, now + timedelta(days=1), capacity=2)
            from booking.services import preregistration

            preregistration.register(db.session, signup(), now=now, channel="online")
            day = (now + timedelta(days=1)).date()
            invitations.release_places(db.session, clinic.id, day, 1, service="covid19", now=now)
            invitations.run_round(db.session, service="covid19", now=now)
            db.session.flush()
            with app.test_request_context("/demo/outbox"):
                html = demo_outbox()  # the view itself: no worker started by a request
    assert "a vaccination place is kept for you" in html
    # The personal link is a link, as a phone shows it: the page's reader follows it.
    assert re.search(r'<a href="http://fairslot\.test/invitation/[\w.-]+">http://fairslot', html)


def test_the_demo_outbox_links_only_this_sites_addresses():
    from booking.demo.outbox import text_parts

    text = "Book: https://book.example.org/invitation/1.ab-c. Or http://evil.example/x, ok"
    assert text_parts(text, "https://book.example.org") == [
        ("Book: ", False),
        ("https://book.example.org/invitation/1.ab-c", True),
        (". Or ", False),
        ("http://evil.example/x", False),
        (", ok", False),
    ]
    # A look-alike host that merely starts with the public address is not this site.
    assert text_parts("https://book.example.org.evil.example/x", "https://book.example.org") == [
        ("https://book.example.org.evil.example/x", False)
    ]
    assert "".join(piece for piece, _ in text_parts(text, "https://x")) == text
