"""What state admins see of preregistration and invitations: people by priority group and by
area, the places released, and each round's outcome with its acceptance rate."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from booking.models import Clinic, Invitation, InvitationRound, Preregistration, Slot
from booking.services.geo import lookup_zip
from booking.services.invitations import live_invitations, releases_of

UNKNOWN_AREA = "?"


def group_counts(session: Session) -> list[tuple[str, str, int, str, int]]:
    """Preregistrations per service, priority group (rank order) and status."""
    rows = session.execute(
        select(
            Preregistration.service,
            Preregistration.priority_group,
            Preregistration.priority_rank,
            Preregistration.status,
            func.count(Preregistration.id),
        )
        .group_by(
            Preregistration.service,
            Preregistration.priority_group,
            Preregistration.priority_rank,
            Preregistration.status,
        )
        .order_by(Preregistration.service, Preregistration.priority_rank)
    ).all()
    return [(s, g, r, st, n) for s, g, r, st, n in rows]


def released(session: Session, *, now: datetime) -> list[tuple[Clinic, date, int, int]]:
    """Each clinic and day with places set aside for invitees: the places and live invitations."""
    found = []
    for service in sorted({row[0] for row in session.execute(select(Slot.service).distinct())}):
        for entry in releases_of(session, service, now).values():
            live = live_invitations(session, entry["clinic"].id, entry["day"])
            found.append((entry["clinic"], entry["day"], entry["reserved"], live))
    return sorted(found, key=lambda row: (row[1], row[0].name))


def funnel(session: Session, *, limit: int = 20) -> list[tuple[InvitationRound, dict[str, int]]]:
    """The latest rounds, each with its invitations by status (sent, booked, expired)."""
    rounds = session.scalars(
        select(InvitationRound)
        # A round's pool can hold tens of thousands of people: the page needs none of them.
        .options(defer(InvitationRound.pool), defer(InvitationRound.skipped))
        .order_by(InvitationRound.id.desc())
        .limit(limit)
    ).all()
    counts: dict[int, dict[str, int]] = {r.id: defaultdict(int) for r in rounds}
    if rounds:
        rows = session.execute(
            select(Invitation.round_id, Invitation.status, func.count(Invitation.id))
            .where(Invitation.round_id.in_(list(counts)))
            .group_by(Invitation.round_id, Invitation.status)
        ).all()
        for round_id, status, count in rows:
            counts[round_id][status] = count
    return [(r, dict(counts[r.id])) for r in rounds]


def funnel_by_clinic(
    session: Session, rounds: list[InvitationRound], *, clinic_id: int | None = None
) -> list[tuple[InvitationRound, Clinic, int, dict[str, int]]]:
    """Each round's funnel per clinic (or at ``clinic_id`` only): the places the round offered
    there, and its invitations there by status; newest round first, clinics by name."""
    if not rounds:
        return []
    query = (
        select(Invitation.round_id, Invitation.clinic_id, Invitation.status, func.count())
        .where(Invitation.round_id.in_([r.id for r in rounds]))
        .group_by(Invitation.round_id, Invitation.clinic_id, Invitation.status)
    )
    if clinic_id is not None:
        query = query.where(Invitation.clinic_id == clinic_id)
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for round_id, at, status, count in session.execute(query):
        counts[(round_id, at)][status] = count
    clinics = {
        c.id: c
        for c in session.scalars(select(Clinic).where(Clinic.id.in_({at for _r, at in counts})))
    }
    found = []
    for record in sorted(rounds, key=lambda r: -r.id):
        offered: dict[int, int] = defaultdict(int)
        for key, places in (record.places or {}).items():
            offered[int(key.split(":")[0])] += int(places)
        here = [at for r, at in counts if r == record.id]
        for at in sorted(here, key=lambda c: (clinics[c].name, c)):
            found.append((record, clinics[at], offered[at], counts[(record.id, at)]))
    return found


def waiting_by_area(session: Session) -> list[tuple[str, str, int]]:
    """People waiting for an invitation per county (from their ZIP code) and vaccine, most
    first: where released places would reach the most of them."""
    rows = session.execute(
        select(Preregistration.zip_code, Preregistration.service, func.count(Preregistration.id))
        .where(Preregistration.status == "waiting")
        .group_by(Preregistration.zip_code, Preregistration.service)
    ).all()
    counts: Counter[tuple[str, str]] = Counter()
    for zip_code, service, count in rows:
        place = lookup_zip(zip_code)
        county = (place.county if place is not None else None) or UNKNOWN_AREA
        counts[(county, service)] += count
    return [(county, service, n) for (county, service), n in counts.most_common()]


def acceptance(counts: dict[str, int]) -> float | None:
    """Of a round's invitations that have ended, the share booked (None while none has)."""
    booked = counts.get("booked", 0)
    ended = booked + counts.get("expired", 0) + counts.get("declined", 0)
    return booked / ended if ended else None
