"""An invitee's personal link: signed, bound to its invitation, single-use, and the way in.

``book`` takes one of the places released for the invitee's clinic and day (a conditional
UPDATE, so racing invitees take each place once) and books it for the preregistered person
only: their date of birth must be confirmed, so a forwarded link books nothing for anyone
else. The booking is made under the admission ticket ``invite-<id>``, spent once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from booking.models import (
    Clinic,
    Invitation,
    InvitationRound,
    InvitationStatus,
    MessageKind,
    OnExpiry,
    Preregistration,
    PreregistrationStatus,
    Slot,
)
from booking.services import eligibility, holds, invitations, reservations, row_tokens
from booking.services.eligibility import EligibilityAnswers
from booking.services.errors import Conflict, HoldExpired, InvalidInput, NotFound, SlotFull
from booking.services.inventory import local_day_bounds
from booking.services.notices import DEFAULT_NOTICES, NoticePolicy
from booking.services.people import Person
from booking.services.text import N_
from booking.services.validation import parse_date

SENT = InvitationStatus.SENT.value
_NOT_FOUND = N_("That invitation link is not valid.")
_PURPOSE = "invitation"


def invitation_token(secret_key: str, invitation: Invitation) -> str:
    """The personal link's token, signed over the invitation's id and nonce."""
    return row_tokens.sign(secret_key, _PURPOSE, invitation.id, invitation.token_nonce)


def find_invitation(session: Session, secret_key: str, token: object) -> Invitation:
    """The invitation a link names; NotFound for anything else."""
    number = row_tokens.row_id(token)
    found = session.get(Invitation, number) if number is not None else None
    if found is None or not row_tokens.matches(
        secret_key, _PURPOSE, str(token), found.id, found.token_nonce
    ):
        raise NotFound(_NOT_FOUND)
    return found


def usable(invitation: Invitation, *, now: datetime) -> None:
    """Raise unless the invitation can still book: live and not past its expiry."""
    if invitation.status == InvitationStatus.BOOKED.value:
        raise Conflict(N_("This invitation has already been used to book."))
    if invitation.status == InvitationStatus.DECLINED.value:
        # Declined on its page, or ended by a withdrawal: "expired, you stay preregistered"
        # would be untrue for someone who withdrew.
        raise HoldExpired(
            N_("This invitation has ended: it was declined, or the preregistration withdrawn.")
        )
    if invitation.status != SENT or invitation.expires_at <= now:
        raise HoldExpired(N_("This invitation has expired. You stay preregistered."))


def offered_slots(session: Session, invitation: Invitation, *, now: datetime) -> list[Slot]:
    """The released times the invitee may choose among (their product, if they chose one)."""
    prereg = session.get(Preregistration, invitation.preregistration_id)
    clinic = session.get(Clinic, invitation.clinic_id)
    assert prereg is not None and clinic is not None
    start, end = local_day_bounds(invitation.day, clinic.timezone)
    query = select(Slot).where(
        Slot.clinic_id == clinic.id,
        Slot.service == prereg.service,
        Slot.starts_at >= max(start, now),
        Slot.starts_at < end,
        Slot.is_open.is_(True),
        Slot.invite_reserved > 0,
    )
    if prereg.product_id is not None:
        query = query.where(Slot.product_id == prereg.product_id)
    return list(session.scalars(query.order_by(Slot.starts_at, Slot.id)))


def book(
    session: Session,
    invitation_id: int,
    slot_id: object,
    date_of_birth: object,
    *,
    now: datetime,
    secret_key: str,
    hold_minutes: int = 10,
    notices: NoticePolicy = DEFAULT_NOTICES,
) -> reservations.Confirmation:
    """Book one of the released places for the invitee: only their own person (the date of
    birth must match), once, before the invitation expires."""
    invitation = session.get(Invitation, invitation_id, with_for_update=True)
    if invitation is None:
        raise NotFound(_NOT_FOUND)
    usable(invitation, now=now)
    prereg = session.get(Preregistration, invitation.preregistration_id)
    assert prereg is not None
    born = parse_date(date_of_birth, field="date_of_birth")
    if born != prereg.date_of_birth:
        message = N_("This invitation is for someone else. Each person needs their own.")
        raise InvalidInput(message, errors={"date_of_birth": message})
    offered = {slot.id: slot for slot in offered_slots(session, invitation, now=now)}
    if not isinstance(slot_id, int) or slot_id not in offered:
        message = N_("Choose one of the times offered with this invitation.")
        raise InvalidInput(message, errors={"slot_id": message})
    answers = EligibilityAnswers(prereg.lives_or_works_in_state, prereg.has_condition)
    appointment = eligibility.appointment_of(session, slot_id, now=now)
    eligibility.check_booking(session, appointment, born, answers)
    # The released place becomes an ordinary one, taken at once under this invitation's own
    # admission: the conditional UPDATE lets racing invitees take each place once.
    freed = session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.invite_reserved > 0)
        .values(invite_reserved=Slot.invite_reserved - 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(freed, "rowcount", 0):
        raise SlotFull(N_("The places released for invitees at this time are taken."))
    ticket = f"invite-{invitation.id}"
    hold = holds.place_hold(
        session, slot_id, now=now, hold_minutes=hold_minutes, admission_ticket=ticket
    )
    person = Person(
        prereg.first_name,
        prereg.last_name,
        prereg.date_of_birth,
        prereg.phone or prereg.callback_phone,
        prereg.email,
        eligibility_attested=True,
    )
    confirmation = reservations.confirm_hold(
        session,
        hold.hold_token,
        person,
        answers=answers,
        admission_ticket=ticket,
        now=now,
        secret_key=secret_key,
        notices=notices,
    )
    invitation.status = InvitationStatus.BOOKED.value
    invitation.closed_at = now
    invitation.reservation_id = confirmation.reservation.id
    prereg.status = PreregistrationStatus.BOOKED.value
    prereg.updated_at = now
    _end_the_rest_when_filled(session, invitation, now=now)
    return confirmation


def decline(
    session: Session, invitation_id: int, date_of_birth: object, *, now: datetime
) -> Invitation:
    """The invitee says they cannot come: the invitation ends at once, they wait for a later
    round, and the place goes where the round sends unused ones (the next round or the public).
    The date of birth must match, as for booking, so a forwarded link cannot decline for them."""
    invitation = session.get(Invitation, invitation_id, with_for_update=True)
    if invitation is None:
        raise NotFound(_NOT_FOUND)
    usable(invitation, now=now)
    prereg = session.get(Preregistration, invitation.preregistration_id)
    assert prereg is not None
    if parse_date(date_of_birth, field="date_of_birth") != prereg.date_of_birth:
        message = N_("This invitation is for someone else. Each person needs their own.")
        raise InvalidInput(message, errors={"date_of_birth": message})
    invitation.status = InvitationStatus.DECLINED.value
    invitation.closed_at = now
    if prereg.status == PreregistrationStatus.INVITED.value:
        prereg.status = PreregistrationStatus.WAITING.value
        prereg.updated_at = now
    round_ = session.get(InvitationRound, invitation.round_id)
    session.flush()
    if round_ is not None and round_.on_expiry == OnExpiry.PUBLIC.value:
        invitations.give_back(session, invitation.clinic_id, invitation.day, 1, now=now)
    return invitation


def _end_the_rest_when_filled(session: Session, invitation: Invitation, *, now: datetime) -> None:
    """Once the day's released places are all taken, end the other invitations out for it (an
    over-invited round has more): nobody is left holding a link that can only find nothing, and
    they wait for the next round again, told so by message and by their links."""
    clinic = session.get(Clinic, invitation.clinic_id)
    assert clinic is not None
    start, end = local_day_bounds(invitation.day, clinic.timezone)
    left = session.scalar(
        select(func.coalesce(func.sum(Slot.invite_reserved), 0)).where(
            Slot.clinic_id == clinic.id, Slot.starts_at >= start, Slot.starts_at < end
        )
    )
    if left:
        return
    others = session.scalars(
        select(Invitation)
        .where(
            Invitation.clinic_id == clinic.id,
            Invitation.day == invitation.day,
            Invitation.status == SENT,
            Invitation.id != invitation.id,
        )
        .with_for_update()
    ).all()
    for other in others:
        other.status = InvitationStatus.EXPIRED.value
        other.closed_at = now
        session.execute(
            update(Preregistration)
            .where(
                Preregistration.id == other.preregistration_id,
                Preregistration.status == PreregistrationStatus.INVITED.value,
            )
            .values(status=PreregistrationStatus.WAITING.value, updated_at=now)
        )
    session.flush()
    # Told at once, on the channels the invitation went to, not left to find out at the link.
    invitations.write_messages(session, others, now=now, kind=MessageKind.INVITATION_ENDED)
