"""Confirmation codes, manage tokens, hold tokens and the normalized person key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from base64 import urlsafe_b64encode
from datetime import date

# No 0/O, 1/I/L, or U/V pairs: a code read aloud over the phone cannot be misheard as another.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
CODE_LENGTH = 8
_CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


def new_confirmation_code() -> str:
    """Return a fresh 8-character code from the unambiguous alphabet."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str | None:
    """Accept a code as people type it (spaces, dashes, lower case); None if it cannot be one."""
    cleaned = re.sub(r"[\s\-]", "", raw or "").upper()
    return cleaned if _CODE_RE.match(cleaned) else None


def format_code(code: str) -> str:
    """Show a code in two groups of four, the way it is read over the phone."""
    return f"{code[:4]}-{code[4:]}"


def new_hold_token() -> str:
    """Return an unguessable hold id (192 bits)."""
    return secrets.token_urlsafe(24)


def manage_token_for(secret_key: str, hold_token: str) -> str:
    """Derive the manage-link token (256 bits) from the hold, so replays return the same one."""
    digest = hmac.new(
        secret_key.encode(), b"fairslot-manage-token:" + hold_token.encode(), hashlib.sha256
    ).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def manage_token_again(secret_key: str, hold_token: str, stored_hash: str | None) -> str | None:
    """The manage token of a booking, derived again from its hold; None if it no longer matches
    the stored hash (the secret key changed since), so no link that cannot work is shown."""
    token = manage_token_for(secret_key, hold_token)
    if stored_hash is None or not hmac.compare_digest(token_hash(token), stored_hash):
        return None
    return token


def token_hash(token: str) -> str:
    """Hash a bearer secret for storage; the database never holds the secret itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "".join(ch for ch in letters.casefold() if ch.isalnum())


def person_key(first_name: str, last_name: str, date_of_birth: date) -> str:
    """Normalize name and birth date so "José O'Neil" and "jose oneil" are one person."""
    return f"{_fold(first_name)}|{_fold(last_name)}|{date_of_birth.isoformat()}"
