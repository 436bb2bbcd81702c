"""Invitation rounds: the draw's order and fairness, its replay, and booking with the link."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking.db import db
from booking.models import EligibilityRule, Invitation, Preregistration, Reservation, Slot
from booking.services import invitation_links, invitations, preregistration
from booking.services.errors import Conflict, HoldExpired, InvalidInput, SlotFull
from tests.preregistration.support import signup
from tests.support import make_clinic, make_slot, run_together, two_dose_product

SECRET = "invite-secret"


@pytest.fixture
def world(session, now):
    """A Boston clinic with two slots tomorrow (3 places each) and a Worcester one."""
    boston = make_clinic(session, now)
    worcester = make_clinic(
        session, now, city="Worcester", postal_code="01602", latitude=42.27, longitude=-71.80
    )
    tomorrow = now + timedelta(days=1)
    slots = [make_slot(session, boston, tomorrow + timedelta(hours=h), capacity=3) for h in (1, 2)]
    far = make_slot(session, worcester, tomorrow + timedelta(hours=1), capacity=3)
    return {
        "boston": boston,
        "worcester": worcester,
        "slots": slots,
        "far": far,
        "day": (tomorrow + timedelta(hours=1)).date(),
    }


def people(session, now, count, start=0, **overrides):
    return [
        preregistration.register(session, signup(start + i, **overrides), now=now, channel="online")
        for i in range(count)
    ]


def release(session, now, clinic, day, places):
    return invitations.release_places(session, clinic.id, day, places, service="covid19", now=now)


def test_released_places_are_closed_to_the_public_and_to_agents(session, now, world):
    assert release(session, now, world["boston"], world["day"], 4) == 4
    first, second = world["slots"]
    session.refresh(first)
    assert (first.invite_reserved, second.invite_reserved) == (3, 1)
    assert first.available_online(now) == 0 and first.available == 0
    from booking.services import holds

    with pytest.raises(SlotFull):
        holds.place_hold(session, first.id, now=now, hold_minutes=10)
    from booking.models import Channel

    with pytest.raises(SlotFull):
        holds.place_hold(session, first.id, now=now, hold_minutes=10, channel=Channel.AGENT)


def test_priority_groups_first_then_distance_and_product(session, now, world):
    for phase, low, opened in (("Phase 1", 75, 1), ("Phase 2", 65, 2)):
        session.add(
            EligibilityRule(
                service="covid19",
                phase=phase,
                min_age_years=low,
                effective_from=now.date() - timedelta(days=10 - opened),
                created_at=now,
            )
        )
    session.flush()
    second_group = people(session, now, 4, date_of_birth="1958-01-01")
    first_group = people(session, now, 2, start=10, date_of_birth="1940-01-01")
    far_away = people(session, now, 2, start=20, date_of_birth="1940-02-01", zip="01201")
    other_product = two_dose_product(session)
    wants_other = people(
        session, now, 1, start=30, date_of_birth="1940-03-01", product_id=str(other_product.id)
    )
    release(session, now, world["boston"], world["day"], 3)
    record = invitations.run_round(session, service="covid19", now=now, seed="s1")
    invited = set(
        session.scalars(
            select(Invitation.preregistration_id).where(Invitation.round_id == record.id)
        )
    )
    assert len(invited) == 3
    assert {p.id for p in first_group} <= invited
    assert not invited & {p.id for p in far_away + wants_other}
    assert len(invited & {p.id for p in second_group}) == 1


def test_nobody_is_invited_twice_or_while_holding_a_live_invitation(session, now, world):
    crowd = people(session, now, 5)
    release(session, now, world["boston"], world["day"], 2)
    invitations.run_round(session, service="covid19", now=now)
    again = invitations.run_round(session, service="covid19", now=now)
    assert again.places == {}  # the live invitations cover every released place
    rows = session.scalars(select(Invitation)).all()
    assert len(rows) == 2 and len({r.preregistration_id for r in rows}) == 2
    # Everyone in the group sees how many of it were invited: two, whoever they are.
    assert {preregistration.standing(session, p).invited_in_group for p in crowd} == {2}
    assert {p.status for p in crowd} >= {"invited", "waiting"}


def test_over_invitation_only_when_asked(session, now, world):
    people(session, now, 6)
    release(session, now, world["boston"], world["day"], 2)
    with pytest.raises(InvalidInput):
        invitations.run_round(session, service="covid19", now=now, over_invitation=5)
    record = invitations.run_round(session, service="covid19", now=now, over_invitation=1.5)
    assert sum(record.places.values()) == 3


def test_a_round_replays_from_its_record_and_a_tampered_one_does_not(session, now, world):
    people(session, now, 8)
    release(session, now, world["boston"], world["day"], 3)
    record = invitations.run_round(session, service="covid19", now=now)
    assert invitations.replay(session, record.id)
    invitation = session.scalars(select(Invitation).where(Invitation.round_id == record.id)).first()
    outsider = session.scalars(
        select(Preregistration).where(Preregistration.status == "waiting")
    ).first()
    invitation.preregistration_id = outsider.id
    session.flush()
    assert not invitations.replay(session, record.id)


def test_the_lottery_is_uniform_within_a_group():
    # 10 people, 3 places, 3,000 seeds: each is chosen about 900 times. Chi-squared with 9
    # degrees of freedom stays under 27.88 (p = 0.001) for a fair draw.
    pool = [[i, 0, ["1:2026-03-03"]] for i in range(1, 11)]
    counts: Counter[int] = Counter()
    for n in range(3000):
        for prereg_id, _key in invitations.draw(pool, {"1:2026-03-03": 3}, f"seed-{n}"):
            counts[prereg_id] += 1
    expected = 3000 * 3 / 10
    chi2 = sum((counts[i] - expected) ** 2 / expected for i in range(1, 11))
    assert chi2 < 27.88, counts
    # The test can fail: a draw that favours low ids is caught.
    biased = Counter()
    rng = random.Random(1)
    for _ in range(3000):
        for i in sorted(rng.sample(range(1, 11), 4))[:3]:
            biased[i] += 1
    assert sum((biased[i] - expected) ** 2 / expected for i in range(1, 11)) > 27.88


def _invited(session, now, world, count=1):
    crowd = people(session, now, count)
    release(session, now, world["boston"], world["day"], count)
    invitations.run_round(session, service="covid19", now=now)
    rows = session.scalars(select(Invitation).order_by(Invitation.id)).all()
    return rows, {p.id: p for p in crowd}


def test_an_invitation_books_its_own_person_once(session, now, world):
    (invitation,), crowd = _invited(session, now, world)
    prereg = crowd[invitation.preregistration_id]
    slot = invitation_links.offered_slots(session, invitation, now=now)[0]
    with pytest.raises(InvalidInput) as forwarded:
        invitation_links.book(
            session, invitation.id, slot.id, "1960-01-01", now=now, secret_key=SECRET
        )
    assert "date_of_birth" in forwarded.value.errors
    with pytest.raises(InvalidInput):
        invitation_links.book(
            session, invitation.id, world["far"].id, "1950-04-27", now=now, secret_key=SECRET
        )
    done = invitation_links.book(
        session, invitation.id, slot.id, "04/27/1950", now=now, secret_key=SECRET
    )
    assert done.reservation.person_key == prereg.person_key
    assert (invitation.status, prereg.status) == ("booked", "booked")
    session.refresh(slot)
    assert (slot.invite_reserved, slot.booked) == (0, 1)
    with pytest.raises(Conflict):  # a replayed link
        invitation_links.book(
            session, invitation.id, slot.id, "1950-04-27", now=now, secret_key=SECRET
        )


def test_the_link_is_signed_and_bound_to_its_invitation(session, now, world):
    (invitation,), _crowd = _invited(session, now, world)
    token = invitation_links.invitation_token(SECRET, invitation)
    assert invitation_links.find_invitation(session, SECRET, token).id == invitation.id
    from booking.services.errors import NotFound

    for bad in (
        token[:-1] + "x",
        f"{invitation.id + 1}.{token.split('.')[1]}",
        "x",
        None,
        token + "\x00",
    ):
        with pytest.raises(NotFound):
            invitation_links.find_invitation(session, SECRET, bad)


@pytest.mark.parametrize("on_expiry", ["next_round", "public"])
def test_expired_invitations_return_their_places(session, now, world, on_expiry):
    crowd = people(session, now, 3)
    release(session, now, world["boston"], world["day"], 2)
    invitations.run_round(
        session, service="covid19", now=now, expires_hours=24, on_expiry=on_expiry
    )
    later = now + timedelta(hours=24)
    invitation = session.scalars(select(Invitation)).first()
    slot = invitation_links.offered_slots(session, invitation, now=now)[0]
    with pytest.raises(HoldExpired):
        invitation_links.book(
            session, invitation.id, slot.id, "1950-04-27", now=later, secret_key=SECRET
        )
    assert invitations.expire(session, now=later) == 2
    assert {p.status for p in crowd} == {"waiting"}
    reserved = sum(s.invite_reserved for s in session.scalars(select(Slot)))
    assert reserved == (2 if on_expiry == "next_round" else 0)


def test_racing_invitees_never_overbook_the_last_places(committed_app, clock):
    app = committed_app
    now = clock()
    with app.app_context():

        def setup(s):
            clinic = make_clinic(s, now)
            slot = make_slot(s, clinic, now + timedelta(days=1), capacity=2)
            for i in range(6):
                preregistration.register(s, signup(i), now=now, channel="online")
            invitations.release_places(
                s, clinic.id, (now + timedelta(days=1)).date(), 2, service="covid19", now=now
            )
            invitations.run_round(s, service="covid19", now=now, over_invitation=3.0)
            return slot.id, [i.id for i in s.scalars(select(Invitation))]

        slot_id, invitation_ids = db.transaction(setup)
    assert len(invitation_ids) == 6

    def attempt(i):
        with app.app_context():
            try:
                db.transaction(
                    lambda s: invitation_links.book(
                        s, invitation_ids[i], slot_id, "1950-04-27", now=now, secret_key=SECRET
                    )
                )
                return "booked"
            except (SlotFull, InvalidInput, HoldExpired) as exc:
                return type(exc).__name__

    outcomes = run_together(6, attempt)
    assert outcomes.count("booked") == 2
    with app.app_context():  # the last place taken ended the rest: none left live for nothing
        states = Counter(db.session.scalars(select(Invitation.status)))
        assert states == {"booked": 2, "expired": 4}
    with app.app_context():
        slot = db.session.get(Slot, slot_id)
        assert (slot.booked, slot.held, slot.invite_reserved) == (2, 0, 0)
        assert (
            db.session.scalar(
                select(func.count(Reservation.id)).where(Reservation.status == "confirmed")
            )
            == 2
        )


def test_each_invitee_gets_a_message_per_channel_in_their_language(app, session, now, world):
    from booking.messages.invitation import render_invitation
    from booking.models import OutboxMessage

    people(session, now, 1, language="es", email="r@example.org")
    preregistration.register(
        session, signup(1, phone="", callback_phone="617-555-0199"), now=now, channel="agent"
    )  # reached by the 2-1-1 line only
    session.flush()
    release(session, now, world["boston"], world["day"], 2)
    invitations.run_round(session, service="covid19", now=now)
    messages = session.scalars(select(OutboxMessage)).all()
    assert sorted((m.kind, m.channel, m.locale) for m in messages) == [
        ("invitation", "email", "es"),
        ("invitation", "sms", "es"),
    ]
    with app.test_request_context():
        sms = render_invitation(session, next(m for m in messages if m.channel == "sms"))
    assert sms.text.startswith("FairSlot: Robinaa") and "vacunación" in sms.text
    token = sms.text.rsplit("/invitation/", 1)[1].split()[0]
    assert invitation_links.find_invitation(session, app.config["SECRET_KEY"], token)


def test_an_invitation_ends_by_the_last_released_time(session, now, world):
    people(session, now, 1)
    release(session, now, world["boston"], world["day"], 1)
    invitations.run_round(session, service="covid19", now=now, expires_hours=72)
    invitation = session.scalars(select(Invitation)).one()
    assert invitation.expires_at == world["slots"][0].starts_at  # not 72 hours from now


def test_when_an_over_invited_days_places_are_gone_the_other_invitations_end(session, now, world):
    crowd = {p.id: p for p in people(session, now, 2)}
    release(session, now, world["boston"], world["day"], 1)
    invitations.run_round(session, service="covid19", now=now, over_invitation=2)
    first, second = session.scalars(select(Invitation).order_by(Invitation.id)).all()
    assert (first.status, second.status) == ("sent", "sent")  # two invitations, one place
    slot = invitation_links.offered_slots(session, first, now=now)[0]
    invitation_links.book(session, first.id, slot.id, "1950-04-27", now=now, secret_key=SECRET)
    session.refresh(second)
    assert second.status == "expired"  # ended at once, not left live with nothing to find
    assert crowd[second.preregistration_id].status == "waiting"  # in line for the next round
    from booking.models import OutboxMessage

    told = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "invitation_ended")
    ).all()
    assert {(m.invitation_id, m.channel) for m in told} == {(second.id, "sms")}
    with pytest.raises(HoldExpired):
        invitation_links.book(session, second.id, slot.id, "1950-04-27", now=now, secret_key=SECRET)


def test_admins_see_who_waits_where_and_how_many_invitees_book(session, now, world):
    from booking.services import invitation_report

    people(session, now, 3)  # Boston, 02115
    preregistration.register(session, signup(7, zip="01608"), now=now, channel="online")
    session.flush()
    areas = invitation_report.waiting_by_area(session)
    assert areas[:2] == [("Suffolk County", "covid19", 3), ("Worcester County", "covid19", 1)]
    assert invitation_report.acceptance({"sent": 4}) is None  # nothing has ended yet
    assert invitation_report.acceptance({"booked": 3, "expired": 1, "sent": 9}) == 0.75
    assert invitation_report.acceptance({"booked": 1, "expired": 1, "declined": 2}) == 0.25


@pytest.mark.parametrize("on_expiry", ["next_round", "public"])
def test_a_declined_place_goes_where_the_round_sends_unused_ones(session, now, world, on_expiry):
    (crowd_one,) = people(session, now, 1)
    release(session, now, world["boston"], world["day"], 1)
    invitations.run_round(session, service="covid19", now=now, on_expiry=on_expiry)
    invitation = session.scalars(select(Invitation)).one()
    with pytest.raises(InvalidInput):  # a forwarded link cannot decline for them
        invitation_links.decline(session, invitation.id, "1960-01-01", now=now)
    invitation_links.decline(session, invitation.id, "04/27/1950", now=now)
    assert (invitation.status, crowd_one.status) == ("declined", "waiting")
    kept = session.scalar(select(func.sum(Slot.invite_reserved)))
    assert kept == (1 if on_expiry == "next_round" else 0)
    with pytest.raises(HoldExpired):  # declined is final
        invitation_links.decline(session, invitation.id, "04/27/1950", now=now)


def test_the_ended_offer_is_told_in_the_persons_language(app, session, now, world):
    from booking.messages.invitation import render_invitation
    from booking.models import OutboxMessage

    (english,) = people(session, now, 1)
    people(session, now, 1, start=1, language="es")
    release(session, now, world["boston"], world["day"], 1)
    invitations.run_round(session, service="covid19", now=now, over_invitation=2)
    both = session.scalars(select(Invitation)).all()
    taker = next(i for i in both if i.preregistration_id == english.id)
    other = next(i for i in both if i is not taker)
    slot = invitation_links.offered_slots(session, taker, now=now)[0]
    invitation_links.book(session, taker.id, slot.id, "1950-04-27", now=now, secret_key=SECRET)
    (ended,) = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "invitation_ended")
    ).all()
    assert ended.invitation_id == other.id
    with app.test_request_context():
        sms = render_invitation(session, ended)
    assert ended.locale == "es" and "terminó" in sms.text and sms.text.startswith("FairSlot: ")
    assert "/invitation/" not in sms.text  # no link to a place that is gone


@pytest.mark.parametrize("on_expiry", ["next_round", "public"])
def test_withdrawing_while_invited_declines_the_invitation(session, now, world, on_expiry):
    (prereg,) = people(session, now, 1)
    release(session, now, world["boston"], world["day"], 1)
    invitations.run_round(session, service="covid19", now=now, on_expiry=on_expiry)
    invitation = session.scalars(select(Invitation)).one()
    slot = invitation_links.offered_slots(session, invitation, now=now)[0]
    preregistration.withdraw(session, prereg.id, now=now)
    assert (invitation.status, invitation.closed_at, prereg.status) == (
        "declined",
        now,
        "withdrawn",
    )
    # The link books nothing for a withdrawn person, and does not tell them they still wait.
    with pytest.raises(HoldExpired, match="declined, or the preregistration withdrawn"):
        invitation_links.book(
            session, invitation.id, slot.id, "04/27/1950", now=now, secret_key=SECRET
        )
    assert session.scalar(select(func.count(Reservation.id))) == 0
    reserved = sum(s.invite_reserved for s in session.scalars(select(Slot)))
    assert reserved == (1 if on_expiry == "next_round" else 0)
    # No longer out: the day's released places can be changed again.
    assert invitations.live_invitations(session, world["boston"].id, world["day"]) == 0
    assert release(session, now, world["boston"], world["day"], 2) == 2
