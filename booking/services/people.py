"""The person a booking is for, as the forms and the API give it (validated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from booking.services.tokens import person_key


@dataclass(frozen=True)
class Person:
    """Validated details of the resident a reservation is for."""

    first_name: str
    last_name: str
    date_of_birth: date
    phone: str | None = None
    email: str | None = None
    eligibility_attested: bool = False

    @property
    def key(self) -> str:
        """The normalized person key the one-booking-per-service rule is enforced on."""
        return person_key(self.first_name, self.last_name, self.date_of_birth)
