"""FairSlot: one statewide booking system for vaccination appointments."""

from booking.app import create_app

__all__ = ["create_app"]
