"""Clinics' API keys: made, named, rotated and revoked by managers, scoped by state admins.

A key is ``fsk_`` + ten visible characters (the prefix, shown in the console and in the audit
log) + ``_`` + 43 characters of secret (256 random bits). Only HMAC-SHA256 of the whole key,
keyed with the app's secret, is stored. A slow password hash (Argon2) exists to make guessing
a low-entropy password from its hash expensive; a 256-bit random key cannot be guessed from
its hash at any speed, and a slow hash would add tens of milliseconds to every API call and
make each call a cheap way to load the server. The HMAC key means a copy of the database alone
cannot even test a guess. The key is found by its prefix (a unique index) and its hash is
compared in constant time; an unknown prefix is compared against a dummy hash so both take
one path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from booking.models import Clinic, ClinicApiKey, ClinicApiKeyClinic, StaffUser
from booking.services.errors import DomainError, InvalidInput, NotFound
from booking.services.text import N_

KEY_RE = re.compile(r"^(fsk_[a-z2-7]{10})_([A-Za-z0-9_-]{43})$")
NAME_MAX = 80
MAX_KEYS = 20  # per clinic, live ones
_DUMMY = "0" * 64


class KeyRefused(DomainError):
    """No valid key: missing, malformed, unknown, rotated or revoked."""

    status = 401
    title = N_("Unauthorized")

    def __init__(self, detail: str, *, key: ClinicApiKey | None = None) -> None:
        super().__init__(detail)
        self.key = key  # a revoked key that was presented whole, for the audit log


@dataclass(frozen=True)
class NewKey:
    """A key just made or rotated: the only moment its full text exists."""

    key: ClinicApiKey
    secret: str


def key_hash(secret_key: str, presented: str) -> str:
    """HMAC-SHA256 of a presented key, keyed with the app's secret (hex)."""
    mac = hmac.new(secret_key.encode(), b"fairslot-clinic-api-key:", hashlib.sha256)
    mac.update(presented.encode())
    return mac.hexdigest()


def _new_secret() -> tuple[str, str]:
    prefix = "fsk_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()[:10]
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= NAME_MAX or not name.isprintable():
        raise InvalidInput(
            N_("Please name the key."),
            errors={"name": N_("Give the key a name of 1 to 80 characters.")},
        )
    return name


def create_key(
    session: Session,
    clinic_id: int,
    name: str,
    *,
    secret_key: str,
    actor: StaffUser | None,
    now: datetime,
) -> NewKey:
    """Make a key for a clinic; the returned secret is shown once and never stored."""
    name = _name(name)
    # The clinic's row is the lock: two managers making keys at once are counted one by one,
    # so the cap holds (SQLite serializes writers anyway).
    clinic = session.get(Clinic, clinic_id, with_for_update=True)
    if clinic is None:
        raise NotFound(N_("No clinic with that id."))
    live = session.scalars(
        select(ClinicApiKey.id).where(
            ClinicApiKey.clinic_id == clinic_id, ClinicApiKey.revoked_at.is_(None)
        )
    ).all()
    if len(live) >= MAX_KEYS:
        raise InvalidInput(
            N_("Too many keys."),
            errors={"name": N_("Revoke a key first: a clinic has at most 20.")},
        )
    prefix, secret = _new_secret()
    key = ClinicApiKey(
        clinic_id=clinic_id,
        name=name,
        prefix=prefix,
        secret_hash=key_hash(secret_key, secret),
        created_by=actor.id if actor else None,
        created_at=now,
    )
    session.add(key)
    session.flush()
    return NewKey(key, secret)


def clinic_key(
    session: Session, clinic_id: int, key_id: int, *, lock: bool = False
) -> ClinicApiKey:
    """One of the clinic's own keys (another clinic's is not found)."""
    query = select(ClinicApiKey).where(
        ClinicApiKey.id == key_id, ClinicApiKey.clinic_id == clinic_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    key = session.scalars(query).one_or_none()
    if key is None:
        raise NotFound(N_("No such key at this clinic."))
    return key


def rotate_key(
    session: Session, clinic_id: int, key_id: int, *, secret_key: str, now: datetime
) -> NewKey:
    """Give a live key a new secret and prefix; the old text is refused from this commit on."""
    key = clinic_key(session, clinic_id, key_id, lock=True)
    if key.revoked_at is not None:
        raise InvalidInput(N_("That key is revoked."), errors={"key": N_("Make a new key.")})
    key.prefix, secret = _new_secret()
    key.secret_hash = key_hash(secret_key, secret)
    key.rotated_at = now
    session.flush()
    return NewKey(key, secret)


def revoke_key(session: Session, clinic_id: int, key_id: int, *, now: datetime) -> bool:
    """Revoke a key for good; False if it already was."""
    key = clinic_key(session, clinic_id, key_id, lock=True)
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    session.flush()
    return True


def set_scope(session: Session, key_id: int, clinic_ids: set[int]) -> list[int]:
    """Set the other clinics a key may act for (a chain's sites); return them sorted."""
    key = session.get(ClinicApiKey, key_id, with_for_update=True)
    if key is None:
        raise NotFound(N_("No such key at this clinic."))
    known = set(session.scalars(select(Clinic.id).where(Clinic.id.in_(clinic_ids))))
    if known != clinic_ids:
        raise InvalidInput(
            N_("Unknown clinic."), errors={"clinic_ids": N_("Choose clinics from the list.")}
        )
    extra = sorted(clinic_ids - {key.clinic_id})
    session.execute(delete(ClinicApiKeyClinic).where(ClinicApiKeyClinic.key_id == key_id))
    session.add_all(ClinicApiKeyClinic(key_id=key_id, clinic_id=c) for c in extra)
    session.flush()
    return extra


def list_keys(session: Session, clinic_id: int) -> list[tuple[ClinicApiKey, list[int]]]:
    """The clinic's keys, live first then newest, each with its granted clinics."""
    keys = session.scalars(
        select(ClinicApiKey)
        .where(ClinicApiKey.clinic_id == clinic_id)
        .order_by(ClinicApiKey.revoked_at.is_not(None), ClinicApiKey.id.desc())
    ).all()
    grants: dict[int, list[int]] = {}
    for key_id, granted in session.execute(
        select(ClinicApiKeyClinic.key_id, ClinicApiKeyClinic.clinic_id)
        .where(ClinicApiKeyClinic.key_id.in_([k.id for k in keys]))
        .order_by(ClinicApiKeyClinic.clinic_id)
    ):
        grants.setdefault(key_id, []).append(granted)
    return [(key, grants.get(key.id, [])) for key in keys]


def scope_of(session: Session, key: ClinicApiKey) -> set[int]:
    """The clinics a key may act for: its own and those granted."""
    granted = session.scalars(
        select(ClinicApiKeyClinic.clinic_id).where(ClinicApiKeyClinic.key_id == key.id)
    )
    return {key.clinic_id, *granted}


def authenticate(
    session: Session, presented: str, *, secret_key: str, lock: bool = False
) -> ClinicApiKey:
    """The live key this text is, or KeyRefused; ``lock`` holds it until the transaction ends.

    Holding the key's row means a revocation or rotation waits for a batch in flight, and a
    batch that comes after either is refused whole.
    """
    match = KEY_RE.match(presented)
    if match is None:
        raise KeyRefused(N_("Send a valid API key as a Bearer token."))
    query = select(ClinicApiKey).where(ClinicApiKey.prefix == match.group(1))
    if lock:
        query = query.with_for_update()
    key = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    expected = key.secret_hash if key is not None else _DUMMY
    if not hmac.compare_digest(expected, key_hash(secret_key, presented)) or key is None:
        raise KeyRefused(N_("This API key is not valid: it is unknown or was rotated."))
    if key.revoked_at is not None:
        raise KeyRefused(N_("This API key was revoked."), key=key)
    return key
