"""Domain errors raised by the services; the views map each to an HTTP status."""

from __future__ import annotations

from booking.services.text import N_


class DomainError(Exception):
    """Base of all business-rule failures; ``status`` is the HTTP status views answer with."""

    status = 400
    title = N_("Request refused")

    def __init__(self, detail: str, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        # True when the service wrote something that must stand although the request fails
        # (a refused confirm releases its hold): db.transaction commits, then re-raises.
        self.keeps_work = False

    def extensions(self) -> dict[str, str]:
        """Extra members for the API's problem details (RFC 9457 extension members)."""
        return {}


class NotFound(DomainError):
    """The thing asked for does not exist (or may not be revealed)."""

    status = 404
    title = N_("Not found")


class SlotFull(DomainError):
    """Every place in the slot is held or booked."""

    status = 409
    title = N_("Slot full")


class SlotUnavailable(DomainError):
    """The slot is closed or already started."""

    status = 409
    title = N_("Slot unavailable")


class HoldExpired(DomainError):
    """The hold ran out before it was confirmed; its place went back to the pool."""

    status = 410
    title = N_("Hold expired")


class AlreadyBooked(DomainError):
    """The person already has a confirmed reservation for this service."""

    status = 409
    title = N_("Already booked")


class Conflict(DomainError):
    """The request conflicts with the reservation's current state."""

    status = 409
    title = N_("Conflict")


class InvalidInput(DomainError):
    """Field-level validation failed; ``errors`` maps field names to messages."""

    status = 422
    title = N_("Invalid input")


class NotEligible(InvalidInput):
    """The rules refuse this person for this booking; ``rule`` names the rule that failed.

    Rules: "age", "residency", "condition" (a phase's own terms), "phase" (no phase open
    today), "product_age" (the vaccine product's licensed ages).
    """

    title = N_("Not eligible")

    def __init__(self, detail: str, *, rule: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail, errors=errors)
        self.rule = rule

    def extensions(self) -> dict[str, str]:
        """The failing rule, so API clients can tell the rules apart."""
        return {"rule": self.rule}


class AdmissionSpent(DomainError):
    """The waiting-room admission already made its booking; the person must join again."""

    status = 409
    title = N_("Admission used")


class AdmissionNeeded(DomainError):
    """The waiting room is on and this step (a move to another clinic) needs an admission."""

    status = 401
    title = N_("Admission required")
