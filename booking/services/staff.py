"""Staff accounts: creation, sign-in with lockout, second factor, sessions, and the audit log."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from booking.models import AuditEntry, Clinic, Role, StaffClinic, StaffSession, StaffUser
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.services.text import N_

# Argon2id (argon2-cffi's default type) with its RFC 9106 "low memory" parameters.
DEFAULT_HASHER = PasswordHasher()
_hasher = DEFAULT_HASHER
MIN_PASSWORD_LENGTH = 12
DISPLAY_NAME_MAX = 120  # the column's length
# A fixed hash to verify against when the email is unknown, so timing does not reveal accounts.
# Made on first use with the hasher in force, never at import time.
_dummy_hash: str | None = None


class SignInRefused(DomainError):
    """Wrong email or password, or the account is disabled (one message for all)."""

    status = 401
    title = N_("Sign-in refused")


class AccountLocked(DomainError):
    """Too many failed attempts; the account is locked for a while."""

    status = 423
    title = N_("Account locked")


@dataclass(frozen=True)
class Policy:
    """Sign-in rules."""

    max_failures: int = 5
    lockout_minutes: int = 15
    idle_minutes: int = 30
    absolute_hours: int = 12


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash with other Argon2 parameters from now on (the test suite's cheap ones); hashes made
    with any parameters still verify, and a sign-in rehashes them with the ones in force."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def _unknown_account_hash() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("fairslot-no-such-user")
    return _dummy_hash


def _unknown_clinics(session: Session, clinic_ids: tuple[int, ...]) -> set[int]:
    # Checked before writing: a foreign-key violation at flush would be a 500, not a form error.
    wanted = {c for c in clinic_ids if isinstance(c, int) and 1 <= c <= 2**31 - 1}
    found = set(session.scalars(select(Clinic.id).where(Clinic.id.in_(wanted))))
    return set(clinic_ids) - found


def create_user(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
    now: datetime,
    clinic_ids: tuple[int, ...] = (),
    totp_secret: str | None = None,
) -> StaffUser:
    """Create a staff account; clinic roles must name at least one clinic."""
    errors: dict[str, str] = {}
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        errors["email"] = N_("Enter an email address.")
    if role not in {r.value for r in Role}:
        errors["role"] = N_("Choose a role.")
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = N_("Use at least %(num)d characters.", num=MIN_PASSWORD_LENGTH)
    if len(display_name.strip()) > DISPLAY_NAME_MAX:
        errors["display_name"] = N_("Use at most %(num)d characters.", num=DISPLAY_NAME_MAX)
    if role in (Role.CLINIC_STAFF, Role.CLINIC_MANAGER) and not clinic_ids:
        errors["clinic_ids"] = N_("Clinic staff must belong to at least one clinic.")
    elif clinic_ids and _unknown_clinics(session, clinic_ids):
        errors["clinic_ids"] = N_("Choose clinics from the list.")
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        errors["email"] = N_("An account with this email exists.")
    if errors:
        raise InvalidInput(N_("Please correct the account details."), errors=errors)
    user = StaffUser(
        email=email,
        display_name=display_name.strip() or email[:DISPLAY_NAME_MAX],
        role=role,
        password_hash=hash_password(password),
        totp_secret=totp_secret,
        active=True,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    for clinic_id in dict.fromkeys(clinic_ids):  # once each, in the order given
        session.add(StaffClinic(user_id=user.id, clinic_id=clinic_id))
    session.flush()
    return user


def authenticate(
    session: Session, email: str, password: str, *, now: datetime, policy: Policy
) -> StaffUser:
    """Check a password; count failures and lock the account after too many."""
    user = session.scalars(
        select(StaffUser).where(StaffUser.email == email.strip().lower()).with_for_update()
    ).one_or_none()
    if user is None or not user.active:
        _verify(_unknown_account_hash(), password)
        raise SignInRefused(N_("The email or password is not right."))
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked(
            N_(
                "Too many failed attempts. The account is locked for a few minutes; try again "
                "later or ask an administrator."
            )
        )
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + timedelta(minutes=policy.lockout_minutes)
            user.failed_logins = 0
        user.updated_at = now
        session.flush()
        raise SignInRefused(N_("The email or password is not right."))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_second_factor(user: StaffUser) -> bool:
    """State admins always need TOTP; others when they have enrolled."""
    return user.role == Role.STATE_ADMIN or user.totp_secret is not None


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret."""
    return pyotp.random_base32()


def totp_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The 30-second step whose code this is: the current one or either side of it (clock
    drift); None when it is none of them."""
    cleaned = "".join(ch for ch in code if ch in "0123456789")
    if len(cleaned) != 6:
        return None
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = now + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment), cleaned):
            return int(totp.timecode(moment))
    return None


class TotpOutcome(enum.Enum):
    """What became of a second-factor code."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAYED = "replayed"


def use_totp(
    session: Session, user_id: int, secret: str, code: str, *, now: datetime
) -> TotpOutcome:
    """Accept a code once: its step must come after the last step this account used.

    One conditional UPDATE both checks and records the step, so two requests racing with the
    same code cannot both pass. ``secret`` is the account's, or the one being enrolled.
    """
    step = totp_step(secret, code, now=now)
    if step is None:
        return TotpOutcome.WRONG
    taken = session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user_id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return TotpOutcome.ACCEPTED if taken.rowcount == 1 else TotpOutcome.REPLAYED  # type: ignore[attr-defined]


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    session: Session, user: StaffUser, *, now: datetime, policy: Policy, ip: str | None
) -> str:
    """Open a server-side session; return the secret for the cookie (stored only hashed)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=_session_id(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=policy.absolute_hours),
            ip=ip,
        )
    )
    user.last_login_at = now
    session.flush()
    return token


def resume_session(
    session: Session, token: str, *, now: datetime, policy: Policy
) -> StaffUser | None:
    """The signed-in user, or None if the session ended, idled out or was revoked."""
    record = session.get(StaffSession, _session_id(token))
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        return None
    if record.last_seen_at <= now - timedelta(minutes=policy.idle_minutes):
        record.revoked_at = now
        session.flush()
        return None
    user = session.get(StaffUser, record.user_id)
    if user is None or not user.active:
        return None
    if now - record.last_seen_at > timedelta(seconds=60):
        record.last_seen_at = now  # written at most once a minute per session
        session.flush()
    return user


def end_session(session: Session, token: str, *, now: datetime) -> None:
    """Sign out: the session stops working at once."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == _session_id(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def clinic_ids_of(session: Session, user: StaffUser) -> set[int]:
    """The clinics a clinic staff member or manager belongs to."""
    return set(session.scalars(select(StaffClinic.clinic_id).where(StaffClinic.user_id == user.id)))


def get_user(session: Session, user_id: int) -> StaffUser:
    """A staff account or NotFound."""
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(N_("No such account."))
    return user


def record_audit(
    session: Session,
    *,
    actor: StaffUser | None,
    action: str,
    now: datetime,
    record_type: str | None = None,
    record_id: str | int | None = None,
    clinic_id: int | None = None,
    request_id: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry (who, role, what, which record, when, request id)."""
    entry = AuditEntry(
        at=now,
        actor_id=actor.id if actor else None,
        actor_role=actor.role if actor else None,
        action=action,
        record_type=record_type,
        record_id=str(record_id) if record_id is not None else None,
        clinic_id=clinic_id,
        request_id=request_id,
        ip=ip,
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry
