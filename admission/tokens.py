"""Admission tokens: HMAC-signed, expiring, bound to one ticket and one browser session.

Format: ``v1.<ticket>.<expires-epoch>.<signature>``. The signature covers the ticket, the expiry
and a *binding*: the browser session's random id for cookies, or ``api`` for bearer tokens. A
token copied into another browser fails because that browser's session has another id; a
cookie token replayed as an API bearer fails because the binding differs. Revocation is a
ticket state in Redis, checked by the queue, not here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

VERSION = "v1"


class TokenError(Exception):
    """The token is malformed, tampered with, expired or bound elsewhere."""


@dataclass(frozen=True)
class Claims:
    """What a valid token says."""

    ticket: str
    expires_at: int


def _key(secret: str) -> bytes:
    # A key of its own, derived from the app secret, so tokens cannot be forged from any other
    # value the app signs with the same secret.
    return hmac.new(secret.encode(), b"fairslot-admission-token-v1", hashlib.sha256).digest()


def _signature(secret: str, ticket: str, expires_at: int, binding: str) -> str:
    message = f"{VERSION}|{ticket}|{expires_at}|{binding}".encode()
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: str, ticket: str, expires_at: int, binding: str) -> str:
    """Issue a token for ``ticket`` valid until ``expires_at`` (epoch seconds)."""
    if "." in ticket or not ticket:
        raise ValueError("ticket ids must be non-empty and contain no dots")
    return f"{VERSION}.{ticket}.{expires_at}.{_signature(secret, ticket, expires_at, binding)}"


def verify(secret: str, token: str, *, binding: str, now: float) -> Claims:
    """Check a token's signature, binding and expiry; raise TokenError if any fails."""
    parts = (token or "").split(".")
    if len(parts) != 4 or parts[0] != VERSION or len(token) > 300:
        raise TokenError("malformed admission token")
    _, ticket, raw_expiry, signature = parts
    if not raw_expiry.isdigit():
        raise TokenError("malformed admission token")
    expires_at = int(raw_expiry)
    expected = _signature(secret, ticket, expires_at, binding)
    if not hmac.compare_digest(expected, signature):
        raise TokenError("admission token signature does not match")
    if expires_at <= now:
        raise TokenError("admission token expired")
    return Claims(ticket, expires_at)
