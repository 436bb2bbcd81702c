"""What the preregistration tests share: a valid sign-up as a form or JSON body sends it."""

from __future__ import annotations

from typing import Any


def signup(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid preregistration (a Boston resident, 10 miles, any covid19 vaccine)."""
    values: dict[str, Any] = {
        "first_name": f"Robin{'abcdefghij'[n % 10]}{'abcdefghij'[n // 10 % 10]}",
        "last_name": "Waiting",
        "date_of_birth": "1950-04-27",
        "phone": "617-555-0144",
        "email": "",
        "zip": "02115",
        "travel_miles": "10",
        "language": "en",
        "service": "covid19",
        "product_id": "any",
        "resident": "yes",
        "has_condition": "",
        "accessibility": "",
        "short_notice": "yes",
        "consent": "yes",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}
