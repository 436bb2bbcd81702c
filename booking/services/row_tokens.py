"""Signed links to one row: ``<id>.<mac>``, the MAC over a purpose, the id and the row's nonce.

A preregistration's status link and an invitation's personal link are such tokens. The nonce
is the row's own (a new one voids every link made before), the purpose keeps one kind of link
from standing for another, and the id lets the row be found before the MAC is checked.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import urlsafe_b64encode

MAX_LENGTH = 80
MAX_ID = 2**31 - 1  # ids are 32-bit in the database


def _mac(secret_key: str, purpose: str, row_id: int, nonce: str) -> str:
    message = f"fairslot-{purpose}:{row_id}:{nonce}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret_key: str, purpose: str, row_id: int, nonce: str) -> str:
    """The token for one row."""
    return f"{row_id}.{_mac(secret_key, purpose, row_id, nonce)}"


def row_id(token: object) -> int | None:
    """The id a token names, or None when it cannot be a token at all."""
    if not isinstance(token, str) or len(token) > MAX_LENGTH or token.count(".") != 1:
        return None
    raw = token.split(".")[0]
    if not (raw.isascii() and raw.isdigit() and 1 <= len(raw) <= 10) or not 1 <= int(raw) <= MAX_ID:
        return None
    return int(raw)


def matches(secret_key: str, purpose: str, token: str, row_id: int, nonce: str) -> bool:
    """Whether ``token`` is this row's, compared in constant time."""
    return hmac.compare_digest(token.encode(), sign(secret_key, purpose, row_id, nonce).encode())
