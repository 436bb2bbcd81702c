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
