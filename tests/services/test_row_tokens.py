"""Signed row links: one purpose never stands for another, and malformed tokens name no row."""

from __future__ import annotations

import pytest

from booking.services import row_tokens

KEY = "k" * 32


def test_a_token_opens_its_own_row_for_its_own_purpose_only():
    token = row_tokens.sign(KEY, "preregistration", 7, "nonce")
    assert row_tokens.row_id(token) == 7
    assert row_tokens.matches(KEY, "preregistration", token, 7, "nonce")
    assert not row_tokens.matches(KEY, "invitation", token, 7, "nonce")  # same id, other kind
    assert not row_tokens.matches(KEY, "preregistration", token, 7, "new nonce")  # voided
    assert not row_tokens.matches("other" * 8, "preregistration", token, 7, "nonce")


@pytest.mark.parametrize(
    "token",
    [
        None,
        7,
        "",
        "7",
        "7.a.b",
        "x.abc",
        "-7.abc",
        "\u0667.abc",
        "0.abc",
        "2147483648.abc",
        "1." + "a" * 80,
    ],
)
def test_malformed_tokens_name_no_row(token):
    assert row_tokens.row_id(token) is None


def test_a_leading_zero_is_not_the_same_token():
    token = row_tokens.sign(KEY, "invitation", 7, "n")
    assert not row_tokens.matches(KEY, "invitation", "0" + token, 7, "n")
