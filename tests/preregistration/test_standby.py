"""Standby for today: a clinic's leftover places offered to short-notice volunteers nearby."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.models import Clinic, Invitation, Slot
from booking.services import invitation_links, preregistration, standby
from booking.services.errors import InvalidInput
from tests.preregistration.support import signup
from tests.support import make_clinic, make_slot


@pytest.fixture
def clinic(session, now):
    """A Boston clinic with a slot this afternoon (4 places) and one at opening time, past."""
    boston = make_clinic(session, now, services=["covid19", "flu"])
    make_slot(session, boston, now + timedelta(hours=3), capacity=4)
    make_slot(session, boston, now + timedelta(minutes=5), capacity=9)  # too soon to get there
    return boston


def volunteers(session, now, count, start=0, **overrides):
    return [
        preregistration.register(session, signup(start + i, **overrides), now=now, channel="online")
        for i in range(count)
    ]


def reserved(session):
    return session.scalar(select(func.sum(Slot.invite_reserved)))


def test_offers_go_to_short_notice_volunteers_half_again_as_many_as_places(session, now, clinic):
    eager = volunteers(session, now, 5)  # signup() asks for short-notice offers
    volunteers(session, now, 3, start=10, short_notice="")  # these did not
    done = standby.fill(session, clinic.id, places="2", hours="2", service="covid19", now=now)
    assert (done.places, done.offers) == (2, 3)  # 2 places, 1.5 offers each
    offered = set(session.scalars(select(Invitation.preregistration_id)))
    assert offered <= {p.id for p in eager}
    assert reserved(session) == 2  # from the slot three hours ahead, not the one in 5 minutes
    latest = max(session.scalars(select(Invitation.expires_at)))
    assert latest <= now + timedelta(hours=2)
    assert done.round.places and done.round.pool  # kept, so the draw can be replayed


def test_places_nobody_is_offered_go_back_to_the_public_at_once(session, now, clinic):
    volunteers(session, now, 1)
    done = standby.fill(session, clinic.id, places="4", hours="1", service="covid19", now=now)
    assert (done.places, done.offers) == (1, 1)
    assert reserved(session) == 1  # one kept for the one offer, three back at once
    nobody = make_clinic(session, now, name="Quiet", services=["flu"])
    make_slot(session, nobody, now + timedelta(hours=2), capacity=3, service="flu")
    empty = standby.fill(session, nobody.id, places="3", hours="1", service="flu", now=now)
    assert (empty.places, empty.offers) == (0, 0)
    assert reserved(session) == 1  # the quiet clinic's places all stayed public


def test_the_first_to_book_take_them_and_the_rest_end(session, now, clinic):
    people = {p.id: p for p in volunteers(session, now, 3)}
    standby.fill(session, clinic.id, places="2", hours="1", service="covid19", now=now)
    offers = session.scalars(select(Invitation).order_by(Invitation.id)).all()
    assert len(offers) == 3
    for offer in offers[:2]:
        slot = invitation_links.offered_slots(session, offer, now=now)[0]
        invitation_links.book(session, offer.id, slot.id, "1950-04-27", now=now, secret_key="s")
    session.refresh(offers[2])
    assert offers[2].status == "expired"  # told at once by its link: the places are filled
    assert people[offers[2].preregistration_id].status == "waiting"


@pytest.mark.parametrize(
    ("places", "hours", "service", "field"),
    [
        ("0", "1", "covid19", "places"),
        ("101", "1", "covid19", "places"),
        ("two", "1", "covid19", "places"),
        ("2", "5", "covid19", "hours"),
        ("2", "1", "rsv", "service"),  # not offered here
        ("2", "1", ["covid19"], "service"),
        ("2\x00", "1", "covid19", "places"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    session, now, clinic, places, hours, service, field
):
    volunteers(session, now, 2)
    with pytest.raises(InvalidInput) as refused:
        standby.fill(session, clinic.id, places=places, hours=hours, service=service, now=now)
    assert field in refused.value.errors
    assert not reserved(session) and not session.scalar(select(func.count(Invitation.id)))


def test_no_places_left_today_says_so(session, now):
    late = make_clinic(session, now, name="Late")
    make_slot(session, late, now + timedelta(minutes=10), capacity=2)  # too soon
    with pytest.raises(InvalidInput) as refused:
        standby.fill(session, late.id, places="2", hours="1", service="covid19", now=now)
    assert "No free places are left today" in refused.value.errors["places"]


def test_a_manager_fills_places_from_the_console_in_a_few_taps(app, clock):
    from booking.db import db
    from booking.models import AuditEntry
    from tests.staff.clinic_support import build_world, client_for, token

    world = build_world(app, clock)
    with app.app_context():
        mine = db.session.get(Clinic, world["mine"])
        make_slot(db.session, mine, clock() + timedelta(hours=2), capacity=3)
        volunteers(db.session, clock(), 2)
        db.session.commit()
    manager = client_for(app, clock, "clinic_manager")
    roster = manager.get(f"/clinic/{world['mine']}/roster").text
    assert f"/clinic/{world['mine']}/standby" in roster
    page = manager.get(f"/clinic/{world['mine']}/standby").text
    assert "Places to fill" in page
    bad = manager.post(
        f"/clinic/{world['mine']}/standby",
        data={"csrf_token": token(manager), "places": "0", "hours": "1", "service": "covid19"},
    )
    assert bad.status_code == 422 and "from 1 to 100" in bad.text
    done = manager.post(
        f"/clinic/{world['mine']}/standby",
        data={"csrf_token": token(manager), "places": "1", "hours": "1", "service": "covid19"},
    )
    assert done.status_code == 200 and 'id="standby-done"' in done.text
    # The clinic's own funnel: the round's two offers (for its one place), both still out.
    funnel = done.text.split('id="clinic-funnel"')[1]
    cells = re.findall(r'data-label="([^"]+)">([^<]*)<', funnel)
    assert cells[:5] == [
        ("Places", "2"),
        ("Invited", "2"),
        ("Booked", "0"),
        ("Expired", "0"),
        ("Declined", "0"),
    ]
    with app.app_context():
        assert db.session.scalar(select(func.count(Invitation.id))) == 2  # 1 place, 1.5 offers
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "clinic.standby")
        ).one()
        assert entry.detail["offers"] == 2


def test_always_a_few_more_offers_than_places():
    from booking.services.invitations import MAX_OVER_INVITATION

    for places, offers in ((1, 2), (2, 3), (3, 5), (4, 6), (7, 11), (100, 150)):
        factor = standby.offers_per_place(places)
        assert int(places * factor + 1e-9) == offers and factor <= MAX_OVER_INVITATION
