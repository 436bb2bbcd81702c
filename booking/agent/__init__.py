"""The 2-1-1 agent console: find, hold and book a time for a caller; find and change bookings."""

from flask import Blueprint

bp = Blueprint("agent", __name__, url_prefix="/agent")

from booking.agent import book, manage, preregister, search  # noqa: E402, F401
